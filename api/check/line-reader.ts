/**
 * Reads a trace file line by line in fixed-size chunks, so that a file of any size is read without
 * ever holding it as one string: a soak's node file exceeds V8's maximum string length (about
 * 2^29 characters), and even below it one string per file plus its split would not fit the heap.
 *
 * Lines are cut at the byte 0x0A and each line is decoded on its own. A multi-byte UTF-8 sequence
 * never contains 0x0A, so a character split across two chunks is decoded whole; a line split across
 * chunks is carried over as bytes until its newline arrives.
 */
import * as fs from 'node:fs/promises';

/** Bytes read per chunk: large enough that the calls cost nothing next to parsing the lines. */
export const CHUNK_BYTES_DEFAULT = 1 << 20;

const NEWLINE = 0x0a;

/** Line numbers are stored as unsigned 32-bit integers (trace-store.ts). */
const LINES_PER_FILE_MAX = 0xffff_ffff;

export interface LineReadResult {
  /** Lines read, the unterminated last one included. */
  lines: number;
  /** The file does not end with a newline: its last line may have been cut short by a crash. */
  unterminated: boolean;
}

/**
 * Calls `onLine` with every line of `file` (without its newline, 1-based number), in order. The
 * last line is passed with `terminated` false when the file does not end with a newline; an empty
 * file has no line, and a file ending with a newline has no empty last line. `chunkBytes` is for
 * tests, which use tiny chunks to cut lines and characters at every possible place.
 */
export async function readLines(
  file: string,
  onLine: (text: string, line: number, terminated: boolean) => void,
  chunkBytes: number = CHUNK_BYTES_DEFAULT,
): Promise<LineReadResult> {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new Error(`bad chunk size ${chunkBytes}`);
  const handle = await fs.open(file, 'r');
  const chunk = Buffer.allocUnsafe(chunkBytes);
  // Bytes of a line begun in earlier chunks whose newline has not come yet.
  const carried: Buffer[] = [];
  let carriedBytes = 0;
  let line = 0;
  const emit = (text: string, terminated: boolean): void => {
    if (line === LINES_PER_FILE_MAX) throw new Error(`${file} has more than ${LINES_PER_FILE_MAX} lines`);
    line += 1;
    onLine(text, line, terminated);
  };
  try {
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      const bytes = bytesRead === chunkBytes ? chunk : chunk.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const end = bytes.indexOf(NEWLINE, start);
        if (end === -1) break;
        if (carriedBytes === 0) {
          emit(bytes.toString('utf8', start, end), true);
        } else {
          carried.push(bytes.subarray(start, end));
          emit(Buffer.concat(carried, carriedBytes + end - start).toString('utf8'), true);
          carried.length = 0;
          carriedBytes = 0;
        }
        start = end + 1;
      }
      if (start < bytesRead) {
        // The chunk buffer is reused by the next read: keep a copy of the unfinished line.
        carried.push(Buffer.from(bytes.subarray(start)));
        carriedBytes += bytesRead - start;
      }
    }
  } finally {
    await handle.close();
  }
  if (carriedBytes > 0) emit(Buffer.concat(carried, carriedBytes).toString('utf8'), false);
  return { lines: line, unterminated: carriedBytes > 0 };
}
