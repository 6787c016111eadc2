/** The background expiry sweep every store runs: `work` every `intervalMs`, never two at once. */
export class Sweeper {
  readonly #timer: NodeJS.Timeout | undefined;
  #running = false;

  /** Starts sweeping; an interval of 0 (or less) starts nothing. */
  constructor(intervalMs: number, work: () => Promise<unknown>, onError: (error: unknown) => void = () => undefined) {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = true;
      work()
        .catch(onError)
        .finally(() => {
          this.#running = false;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
