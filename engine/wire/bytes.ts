/**
 * Byte-wise little-endian reads for the few fields read without a DataView (peeking at a header,
 * checking an inner frame), shared by the encoder's assertions and the decoder.
 */
export function readU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}
