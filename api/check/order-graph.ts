/**
 * The graph behind P7 (total-order), evs-spec.md §5: [EVS] §3 asks for one total order on
 * messages and configuration changes that every process's order agrees with, so the checker joins
 * all per-process orders into one graph and looks for cycles.
 */
import { Int32Column } from './columns.js';

/**
 * The union of all per-process orders: a vertex per message and per configuration identity, an
 * edge per pair of consecutive events of one process. Per-process orders are chains, so the union
 * of their transitive closures is acyclic exactly when this graph is.
 *
 * Vertices are numbered in the order the scan first meets them. The edges are not stored while
 * the scan runs: they are the processes' own event sequences, which the model replays
 * (`EdgeSource`) when the cycles are searched, into compressed adjacency arrays.
 */
export class OrderGraph {
  /** Per message number: its vertex, or -1 before the scan meets it. */
  private readonly messageVertices: Int32Array;
  private readonly confVertices = new Map<string, number>();
  private readonly confIdentities: string[] = [];
  /** Per vertex: its message number, or -1 - (index into confIdentities). */
  private readonly keys = new Int32Column();
  /** The adjacency of the last search: edge i goes from the vertex whose range holds i. */
  private offsets = new Int32Array(1);
  private targets = new Int32Array(0);
  private targetEvents = new Int32Array(0);

  constructor(
    messageCount: number,
    private readonly messageText: (message: number) => string,
  ) {
    this.messageVertices = new Int32Array(messageCount).fill(-1);
  }

  addMessage(message: number): number {
    let vertex = this.messageVertices[message] ?? -1;
    if (vertex === -1) {
      vertex = this.keys.push(message);
      this.messageVertices[message] = vertex;
    }
    return vertex;
  }

  /** The vertex of a message the scan has met. */
  messageVertex(message: number): number {
    return this.messageVertices[message] ?? -1;
  }

  confVertex(identity: string): number {
    let vertex = this.confVertices.get(identity);
    if (vertex === undefined) {
      vertex = this.keys.push(-1 - this.confIdentities.length);
      this.confIdentities.push(identity);
      this.confVertices.set(identity, vertex);
    }
    return vertex;
  }

  /** An edge of the last search: its end vertices and the event at its head. */
  edgeAt(edge: number): { from: number; to: number; toEvent: number } {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.offsets[middle + 1] ?? 0) <= edge) low = middle + 1;
      else high = middle;
    }
    return { from: low, to: this.targets[edge] ?? -1, toEvent: this.targetEvents[edge] ?? -1 };
  }

  label(vertex: number): string {
    const key = this.keys.get(vertex);
    return key >= 0 ? this.messageText(key) : `conf ${this.confIdentities[-1 - key] ?? ''}`;
  }

  isMessage(vertex: number): boolean {
    return this.keys.get(vertex) >= 0;
  }

  /**
   * Tarjan's strongly connected components, iteratively (traces are far too deep for recursion),
   * in O(V + E). Returns how many components have more than one vertex and, for the first
   * `cyclesMax` of them, one cycle as a list of edge indices (for `edgeAt`).
   */
  findCycles(cyclesMax: number, edges: EdgeSource): { componentCount: number; cycles: number[][] } {
    const n = this.keys.length;
    this.adjacency(edges);
    const { offsets, targets } = this;
    const order = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const component = new Int32Array(n).fill(-1);
    const stack = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const callVertex = new Int32Array(n);
    const callEdge = new Int32Array(n);
    let stackSize = 0;
    let counter = 0;
    let componentIndex = 0;
    const roots: number[] = [];
    const get = (array: Int32Array, i: number): number => array[i] ?? 0;

    for (let start = 0; start < n; start += 1) {
      if (get(order, start) !== -1) continue;
      let depth = 0;
      const push = (v: number): void => {
        order[v] = counter;
        low[v] = counter;
        counter += 1;
        stack[stackSize] = v;
        stackSize += 1;
        onStack[v] = 1;
        callVertex[depth] = v;
        callEdge[depth] = get(offsets, v);
        depth += 1;
      };
      push(start);
      while (depth > 0) {
        const v = get(callVertex, depth - 1);
        const e = get(callEdge, depth - 1);
        if (e < get(offsets, v + 1)) {
          callEdge[depth - 1] = e + 1;
          const w = get(targets, e);
          if (get(order, w) === -1) push(w);
          else if (onStack[w] === 1) low[v] = Math.min(get(low, v), get(order, w));
          continue;
        }
        depth -= 1;
        if (depth > 0) {
          const parent = get(callVertex, depth - 1);
          low[parent] = Math.min(get(low, parent), get(low, v));
        }
        if (get(low, v) !== get(order, v)) continue;
        let size = 0;
        let w: number;
        do {
          stackSize -= 1;
          w = get(stack, stackSize);
          onStack[w] = 0;
          component[w] = componentIndex;
          size += 1;
        } while (w !== v);
        if (size > 1) roots.push(v);
        componentIndex += 1;
      }
    }

    const cycles = roots.slice(0, cyclesMax).map((root) => this.cycleThrough(root, component));
    return { componentCount: roots.length, cycles };
  }

  /**
   * Out-edges in compressed form: the edges of v are offsets[v] .. offsets[v+1] - 1, in the order
   * the source gives them; targets[] holds their head vertex, targetEvents[] the head's event.
   */
  private adjacency(edges: EdgeSource): void {
    const n = this.keys.length;
    const offsets = new Int32Array(n + 1);
    edges((from) => {
      offsets[from + 1] = (offsets[from + 1] ?? 0) + 1;
    });
    for (let v = 0; v < n; v += 1) offsets[v + 1] = (offsets[v + 1] ?? 0) + (offsets[v] ?? 0);
    const m = offsets[n] ?? 0;
    const targets = new Int32Array(m);
    const targetEvents = new Int32Array(m);
    const fill = offsets.slice(0, n);
    edges((from, to, toEvent) => {
      const at = fill[from] ?? 0;
      targets[at] = to;
      targetEvents[at] = toEvent;
      fill[from] = at + 1;
    });
    this.offsets = offsets;
    this.targets = targets;
    this.targetEvents = targetEvents;
  }

  /** Breadth-first search inside root's component for a shortest cycle back to root. */
  private cycleThrough(root: number, component: Int32Array): number[] {
    const { offsets, targets } = this;
    const rootComponent = component[root];
    const parent = new Map<number, { edge: number; from: number }>([[root, { edge: -1, from: -1 }]]);
    const queue = [root];
    for (let head = 0; head < queue.length; head += 1) {
      const v = queue[head] ?? 0;
      for (let e = offsets[v] ?? 0; e < (offsets[v + 1] ?? 0); e += 1) {
        const w = targets[e] ?? 0;
        if (component[w] !== rootComponent) continue;
        if (w === root) {
          const cycle = [e];
          for (let at = v; at !== root; ) {
            const back = parent.get(at) ?? { edge: -1, from: root };
            cycle.push(back.edge);
            at = back.from;
          }
          return cycle.reverse();
        }
        if (parent.has(w)) continue;
        parent.set(w, { edge: e, from: v });
        queue.push(w);
      }
    }
    return [];
  }
}

/**
 * Replays every edge, always in the same order: `edge(from, to, toEvent)` for each pair of
 * consecutive events of one process joined in the graph.
 */
export type EdgeSource = (edge: (from: number, to: number, toEvent: number) => void) => void;
