/**
 * The real checker thread, plus one way to make it die: a tick asked with CrashBudget receipts
 * throws where nothing catches it, as a bug in the thread would.
 */
import "../../src/checker/checker-thread.ts";

export const CrashBudget = 13;

declare const self: Worker;

self.addEventListener("message", (event: MessageEvent<{ type: string; maxReceipts?: number }>) => {
  if (event.data.type !== "tick" || event.data.maxReceipts !== CrashBudget) return;
  // The real handler has started the tick by now; this ends the thread before it finishes.
  throw new Error("injected failure in the checker thread");
});
