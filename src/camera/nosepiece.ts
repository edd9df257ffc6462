/**
 * The Nosepiece port: which objective is in the light path. A motorised turret takes time to change objectives;
 * `select()` resolves when the new objective is in place.
 */
export interface Nosepiece {
  /** Names of the objectives mounted, in turret order. */
  readonly objectives: readonly string[];
  current(): string;
  select(name: string, signal?: AbortSignal): Promise<void>;
}
