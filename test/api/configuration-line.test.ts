/**
 * The `configuration ...` lines of `totem-evs node` are read back by harnesses (the bench, the
 * soak, the process tests) through parseConfigurationLine: what they time and count rests on it.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigurationLine } from '../../api/commands/node-command.js';

describe('parseConfigurationLine', () => {
  it('reads kind, members, cause and wall-clock time, with or without the nodes named by the cause', () => {
    expect(parseConfigurationLine('configuration regular ring 1:12 members 1,2,3 joined 3 left - cause join (3) at 1733380000123')).toEqual({
      kind: 'regular', members: [1, 2, 3], cause: 'join', atMs: 1733380000123,
    });
    expect(parseConfigurationLine('configuration transitional ring 1:12 members 1,2 joined - left 3 cause leave at 17')).toEqual({
      kind: 'transitional', members: [1, 2], cause: 'leave', atMs: 17,
    });
    expect(parseConfigurationLine('configuration regular ring 1:4 members - joined - left 1 cause token-loss at 5')?.members).toEqual([]);
  });

  it('is null for every other line', () => {
    expect(parseConfigurationLine('sent 100 delivered 300')).toBeNull();
    expect(parseConfigurationLine('configuration regular ring 1:4 members 1 joined - left - cause join')).toBeNull();
  });
});
