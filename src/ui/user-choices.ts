// The user's data choice wins. What a person hands the page (a dropped or chosen folder, a zip,
// a checkpoint, the "Use demo photos" button) is never dropped, and never replaced by something
// the page decided on its own (the start-up demo load). Until the engine can take it (the
// worker starting, the GPU self-test, the page's settings being applied) it waits here, in
// order, and the data panel says so; the bridge opens the queue once start-up has applied the
// settings, and loads the demo set only when no data choice came first.
//
// Surprise: a folder dropped while it waits is still walked at once (the DataTransfer empties
// after the drop event), so only the hand-over to the engine waits, not the reading.
import { useAppStore, type AppStore } from '../store/store.ts';
import type { EngineBridge } from './engine-bridge.ts';

export type UserChoiceKind = 'data' | 'checkpoint';

export interface UserChoice {
  /** A data set (replaces the current one) or weights. */
  kind: UserChoiceKind;
  /** What the user gave, for messages: "Your folder cats". */
  what: string;
  /** `stillWanted()` turns false once a newer data set was chosen (a slow folder walk must not land after it). */
  apply(bridge: EngineBridge, stillWanted: () => boolean): Promise<void>;
}

/** The part of the bridge the queue needs (tests pass their own). */
export type ChoiceTarget = EngineBridge;

export class UserChoices {
  private waiting: UserChoice[] = [];
  private target: ChoiceTarget | null = null;
  private failure: string | null = null;
  /** Data choices so far: a choice is wanted while it is the newest. */
  private dataSerial = 0;
  private wanted = new WeakMap<UserChoice, () => boolean>();
  /** True once the user handed over a data set (then the page never loads one on its own). */
  dataChosen = false;

  constructor(readonly store: AppStore) {}

  /** Whether choices go straight to the engine (else they wait). */
  get open(): boolean {
    return this.target !== null;
  }

  /** Choices waiting for the engine, oldest first. */
  get pending(): readonly UserChoice[] {
    return this.waiting;
  }

  /** Take a choice: now when the engine is ready, else queued (and the page says so). */
  submit(choice: UserChoice): void {
    const serial = choice.kind === 'data' ? ++this.dataSerial : this.dataSerial;
    const stillWanted = () => choice.kind !== 'data' || serial === this.dataSerial;
    this.wanted.set(choice, stillWanted);
    if (choice.kind === 'data') this.dataChosen = true;
    if (this.target) {
      void choice.apply(this.target, stillWanted);
      return;
    }
    const s = this.store.getState();
    if (this.failure) {
      if (choice.kind === 'data') s.setDataError(`${choice.what} cannot load: ${this.failure}`);
      return;
    }
    // A later data set replaces an earlier one still waiting (as it would once loaded).
    if (choice.kind === 'data') this.waiting = this.waiting.filter((c) => c.kind !== 'data');
    this.waiting.push(choice);
    const message = `${choice.what} will load as soon as the engine is ready.`;
    s.setDataQueued(message);
    if (choice.kind === 'checkpoint') s.setCheckpointReport({ ok: true, title: message, lines: [] });
  }

  /**
   * The engine takes choices from now on: the waiting ones are applied in the order they came
   * (not awaited one by one: a big folder's indexing must not hold a checkpoint back).
   */
  openTo(target: ChoiceTarget): void {
    this.target = target;
    const waiting = this.waiting;
    this.waiting = [];
    for (const c of waiting) void c.apply(target, this.wanted.get(c) ?? (() => true));
    // the load's own "Reading …" message takes over from the queued one
    this.store.getState().setDataQueued(null);
  }

  /** The engine will never be ready (no WebGPU, start-up failed): say so for what waits. */
  fail(reason: string): void {
    this.failure = reason;
    const data = this.waiting.find((c) => c.kind === 'data');
    this.waiting = [];
    const s = this.store.getState();
    s.setDataQueued(null);
    if (data) s.setDataError(`${data.what} cannot load: ${reason}`);
  }
}

/** The page's queue (one per page, like the engine connection). */
export const userChoices = new UserChoices(useAppStore);
