/**
 * Growable typed-array columns and string interning: the storage under the trace model. A long
 * run's trace has tens of millions of lines; one JavaScript object per line (or a Map entry per
 * message) would not fit the default heap, so the model keeps numbers in typed arrays (outside the
 * JavaScript heap, a few bytes per line) and each distinct string once.
 *
 * A column grows by pages of 64 Ki values, never by copying them: appending the 30-millionth value
 * costs what the first did, and no doubling leaves half a column unused. Only the first page
 * starts small and doubles.
 */

const PAGE_SHIFT = 16;
const PAGE_LENGTH = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_LENGTH - 1;
const FIRST_PAGE_LENGTH = 256;

interface TypedArray extends ArrayLike<number> {
  [index: number]: number;
  set(source: ArrayLike<number>): void;
}

class PagedColumn<T extends TypedArray> {
  private readonly pages: T[] = [];
  length = 0;

  constructor(private readonly newPage: (length: number) => T) {}

  push(value: number): number {
    const index = this.length;
    if (index < PAGE_LENGTH) {
      this.growFirstPage(index);
    } else if ((index & PAGE_MASK) === 0) {
      this.pages.push(this.newPage(PAGE_LENGTH));
    }
    this.pages[index >>> PAGE_SHIFT]![index & PAGE_MASK] = value;
    this.length = index + 1;
    return index;
  }

  /**
   * The first page starts small and doubles up to a full page, so that the simulator's thousands
   * of small traces do not each allocate full pages.
   */
  private growFirstPage(index: number): void {
    const first = this.pages[0];
    if (first !== undefined && index < first.length) return;
    const page = this.newPage(first === undefined ? FIRST_PAGE_LENGTH : first.length * 2);
    if (first !== undefined) page.set(first);
    this.pages[0] = page;
  }

  get(index: number): number {
    return this.pages[index >>> PAGE_SHIFT]![index & PAGE_MASK]!;
  }

  set(index: number, value: number): void {
    this.pages[index >>> PAGE_SHIFT]![index & PAGE_MASK] = value;
  }
}

export class Int32Column extends PagedColumn<Int32Array> {
  constructor() {
    super((length) => new Int32Array(length));
  }
}

export class Uint32Column extends PagedColumn<Uint32Array> {
  constructor() {
    super((length) => new Uint32Array(length));
  }
}

export class Uint8Column extends PagedColumn<Uint8Array> {
  constructor() {
    super((length) => new Uint8Array(length));
  }
}

/** Distinct strings numbered 0, 1, … in order of first appearance. */
export class Interner {
  private readonly indexes = new Map<string, number>();
  readonly texts: string[] = [];

  intern(text: string): number {
    let index = this.indexes.get(text);
    if (index === undefined) {
      index = this.texts.length;
      this.indexes.set(text, index);
      this.texts.push(text);
    }
    return index;
  }

  /** The index of `text`, or -1 if it was never interned. */
  find(text: string): number {
    return this.indexes.get(text) ?? -1;
  }

  text(index: number): string {
    const text = this.texts[index];
    if (text === undefined) throw new Error(`no interned string ${index}`);
    return text;
  }

  get size(): number {
    return this.texts.length;
  }
}
