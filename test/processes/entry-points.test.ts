/**
 * The package's entry points as a user imports them: `totem-evs` and `totem-evs/engine`, by
 * name, resolved through package.json's exports from the built files (the package refers to
 * itself by name), with import and with require.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runModule(source: string, type: 'module' | 'commonjs') {
  const r = spawnSync(process.execPath, [`--input-type=${type}`, '-e', source], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe('entry points', () => {
  it("import 'totem-evs' gives createNode, TotemError and the key helpers", () => {
    const r = runModule(
      `import * as m from 'totem-evs';
       console.log(JSON.stringify([typeof m.createNode, typeof m.TotemError, m.totemErrorCodes.includes('TOTEM_ERR_BAD_KEY'),
         typeof m.generateKeyFile, typeof m.readKeyFile]));`,
      'module',
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(['function', 'function', true, 'function', 'function']);
  });

  it("import 'totem-evs/engine' gives a TotemNode that runs, and the codec", () => {
    const r = runModule(
      `import { TotemNode, encodePacket, decodePacket, engineDefaults, resolveEngineConfig } from 'totem-evs/engine';
       const sent = [];
       const node = new TotemNode({ nodeId: 1, incarnation: 1 }, {
         send: (to, bytes) => sent.push(bytes), deliver() {}, configuration() {}, storeRingSeq() {} });
       node.start(0);
       const decoded = decodePacket(sent[0]);
       const again = decoded.ok ? encodePacket(decoded.packet) : null;
       console.log(JSON.stringify([decoded.ok, again !== null && Buffer.from(again).equals(Buffer.from(sent[0])),
         resolveEngineConfig({ nodeId: 1 }).tokenTimeoutMs === engineDefaults.tokenTimeoutMs]));`,
      'module',
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([true, true, true]);
  });

  it("require('totem-evs') works too (Node's require of an ES module)", () => {
    const r = runModule(`const m = require('totem-evs'); console.log(typeof m.createNode);`, 'commonjs');
    expect(r.stdout).toBe('function');
  });
});
