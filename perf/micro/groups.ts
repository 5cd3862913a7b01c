/**
 * Group layer micro-benchmarks, per application message: the Packer (submit, then take frames
 * until the queue is empty) and the Assembler (unpack delivered frames into messages), for 64 B
 * messages (packed many to a frame) and 1024 B messages (one to a frame), payload limit 1406 B
 * (frames at MTU 1500).
 */
import { Assembler } from '../../engine/groups/assembler.js';
import { Packer } from '../../engine/groups/packer.js';
import type { DeliveredFrame } from '../../engine/types.js';
import { measure, type MicroResult } from './measure.js';

const payloadBytesMax = 1406;
const ringId = { rep: 1, seq: 4n };

function packer(): Packer {
  return new Packer({ nodeId: 2, incarnation: 1, payloadBytesMax, messageBytesMax: 1 << 20, sendQueueBytesMax: 64 << 20 });
}

export function groupBenchmarks(runs: number, scale: number): MicroResult[] {
  const results: MicroResult[] = [];
  for (const sizeBytes of [64, 1024]) {
    const payload = new Uint8Array(sizeBytes).fill(3);
    const ops = Math.round(scale * 1_000_000);
    const batch = 4096;
    const p = packer();
    results.push(measure(`packer: submit + pack, ${sizeBytes} B message`, ops, runs, (n) => {
      let bytes = 0;
      for (let done = 0; done < n; done += batch) {
        const count = Math.min(batch, n - done);
        for (let i = 0; i < count; i++) p.submit('bench', payload, 'agreed');
        for (let f = p.nextFrame(); f !== null; f = p.nextFrame()) bytes += f.payload.length;
      }
      return bytes;
    }));

    // Frames to unpack: a join (so that the group has a member) then messages, packed once.
    const source = packer();
    source.submitJoin('bench');
    const joinFrame = source.nextFrame();
    const frames: Uint8Array[] = [];
    let perFrame = 0;
    for (let i = 0; i < 2048; i++) source.submit('bench', payload, 'agreed');
    for (let f = source.nextFrame(); f !== null; f = source.nextFrame()) frames.push(f.payload.slice());
    perFrame = 2048 / frames.length;
    let delivered = 0;
    const assembler = new Assembler({ nodeId: 1, messageBytesMax: 1 << 20 }, {
      deliver: () => (delivered += 1),
      groupEvent: () => {},
      configuration: () => {},
    });
    assembler.onConfiguration({ kind: 'regular', ringId, members: [1, 2], joined: [1, 2], left: [], cause: 'start', causeNodes: [] });
    const frame: DeliveredFrame = { ringId, seq: 1, originator: 2, order: 'agreed', payload: joinFrame?.payload ?? new Uint8Array(0), transitional: false };
    assembler.onFrame(frame);
    results.push(measure(`assembler: unpack, ${sizeBytes} B message (${perFrame.toFixed(0)}/frame)`, ops, runs, (n) => {
      const start = delivered;
      let i = 0;
      while (delivered - start < n) {
        frame.seq += 1;
        frame.payload = frames[i % frames.length] as Uint8Array;
        assembler.onFrame(frame);
        i++;
      }
      return delivered;
    }));
  }
  return results;
}
