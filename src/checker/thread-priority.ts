import { dlopen, FFIType } from "bun:ffi";
import { platform } from "node:os";

const PrioProcess = 0;

/**
 * Makes the calling thread nicer by `niceness`. On Linux the nice value belongs to the thread
 * (a PRIO_PROCESS call with who = 0 changes only the caller), so the checker thread gives way
 * to the HTTP thread when both want a core, and HTTP keeps its priority. Best effort: false
 * where libc or the call is not there (not Linux, a sandbox refusing it).
 */
export function lowerThreadPriority(niceness: number): boolean {
  if (niceness <= 0 || platform() !== "linux") return false;
  try {
    const libc = dlopen("libc.so.6", {
      getpriority: { args: [FFIType.i32, FFIType.u32], returns: FFIType.i32 },
      setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    });
    try {
      const current = libc.symbols.getpriority(PrioProcess, 0);
      return libc.symbols.setpriority(PrioProcess, 0, Math.min(19, current + niceness)) === 0;
    } finally {
      libc.close();
    }
  } catch {
    return false;
  }
}
