/**
 * @module The listeners of an upload's events, shared by the single and the parallel upload: a
 * set per event; a listener that throws does not break the upload.
 */

export class Listeners<Events> {
  #sets: { [E in keyof Events]?: Set<(data: Events[E]) => void> } = {}

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: (data: Events[E]) => void): () => void {
    const set = this.#sets[event] ?? new Set<(data: Events[E]) => void>()
    this.#sets[event] = set
    set.add(listener)
    return () => {
      set.delete(listener)
    }
  }

  emit<E extends keyof Events>(event: E, data: Events[E]): void {
    for (const listener of this.#sets[event] ?? []) {
      try {
        listener(data)
      } catch {
        // A listener's failure is not the upload's.
      }
    }
  }
}
