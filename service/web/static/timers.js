// Polling that stops when the page changes (the router calls stopAll).

const timers = new Set();

export function every(ms, fn) {
  const id = setInterval(fn, ms);
  timers.add(id);
  return () => { clearInterval(id); timers.delete(id); };
}

export function stopAll() {
  for (const id of timers) clearInterval(id);
  timers.clear();
}
