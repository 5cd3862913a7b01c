/** Internal calls between the lock manager, its lockspaces and handles (not part of the API). */
export const kRequest = Symbol('request');
export const kConvert = Symbol('convert');
export const kUnlock = Symbol('unlock');
export const kBarrier = Symbol('barrier');
export const kHeld = Symbol('held');
export const kLost = Symbol('lost');
export const kLockMany = Symbol('lockMany');
export const kAdopt = Symbol('adopt');
export const kPurgeOrphans = Symbol('purgeOrphans');
export const kDepth = Symbol('depth');
