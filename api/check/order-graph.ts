/**
 * The graph behind P7 (total-order), evs-spec.md §5: [EVS] §3 asks for one total order on
 * messages and configuration changes that every process's order agrees with, so the checker joins
 * all per-process orders into one graph and looks for cycles.
 */

/**
 * The union of all per-process orders: a vertex per message id and per configuration identity, an
 * edge per pair of consecutive events of one process. Per-process orders are chains, so the union
 * of their transitive closures is acyclic exactly when this graph is.
 */
export class OrderGraph {
  private readonly vertices = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly from: number[] = [];
  private readonly to: number[] = [];
  private readonly proc: number[] = [];
  private readonly fromLine: number[] = [];
  private readonly toLine: number[] = [];

  /** Key "m <id>" for a message, "c <identity>" for a configuration. */
  vertex(key: string): number {
    let vertex = this.vertices.get(key);
    if (vertex === undefined) {
      vertex = this.keys.length;
      this.vertices.set(key, vertex);
      this.keys.push(key);
    }
    return vertex;
  }

  edge(from: number, to: number, proc: number, fromLine: number, toLine: number): void {
    // A repeated vertex in a row is a duplicate delivery or installation, reported elsewhere.
    if (from === to) return;
    this.from.push(from);
    this.to.push(to);
    this.proc.push(proc);
    this.fromLine.push(fromLine);
    this.toLine.push(toLine);
  }

  edgeAt(edge: number): {
    from: number;
    to: number;
    proc: number;
    fromLine: number;
    toLine: number;
  } {
    return {
      from: this.from[edge] ?? -1,
      to: this.to[edge] ?? -1,
      proc: this.proc[edge] ?? -1,
      fromLine: this.fromLine[edge] ?? 0,
      toLine: this.toLine[edge] ?? 0,
    };
  }

  label(vertex: number): string {
    const key = this.keys[vertex] ?? '';
    return key.startsWith('m ') ? key.slice(2) : `conf ${key.slice(2)}`;
  }

  isMessage(vertex: number): boolean {
    return this.keys[vertex]?.startsWith('m ') ?? false;
  }

  /**
   * Tarjan's strongly connected components, iteratively (traces are far too deep for recursion),
   * in O(V + E). Returns how many components have more than one vertex and, for the first
   * `cyclesMax` of them, one cycle as a list of edge indices.
   */
  findCycles(cyclesMax: number): { componentCount: number; cycles: number[][] } {
    const n = this.keys.length;
    const { offsets, adjacency } = this.adjacency();
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
          const w = this.to[get(adjacency, e)] ?? 0;
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

    const cycles = roots
      .slice(0, cyclesMax)
      .map((root) => this.cycleThrough(root, component, offsets, adjacency));
    return { componentCount: roots.length, cycles };
  }

  /** Out-edges in compressed form: the edges of v are adjacency[offsets[v] .. offsets[v+1]). */
  private adjacency(): { offsets: Int32Array; adjacency: Int32Array } {
    const n = this.keys.length;
    const m = this.from.length;
    const offsets = new Int32Array(n + 1);
    for (let e = 0; e < m; e += 1) {
      const slot = (this.from[e] ?? 0) + 1;
      offsets[slot] = (offsets[slot] ?? 0) + 1;
    }
    for (let v = 0; v < n; v += 1) offsets[v + 1] = (offsets[v + 1] ?? 0) + (offsets[v] ?? 0);
    const adjacency = new Int32Array(m);
    const fill = offsets.slice(0, n);
    for (let e = 0; e < m; e += 1) {
      const v = this.from[e] ?? 0;
      adjacency[fill[v] ?? 0] = e;
      fill[v] = (fill[v] ?? 0) + 1;
    }
    return { offsets, adjacency };
  }

  /** Breadth-first search inside root's component for a shortest cycle back to root. */
  private cycleThrough(
    root: number,
    component: Int32Array,
    offsets: Int32Array,
    adjacency: Int32Array,
  ): number[] {
    const rootComponent = component[root];
    const parentEdge = new Map<number, number>([[root, -1]]);
    const queue = [root];
    for (let head = 0; head < queue.length; head += 1) {
      const v = queue[head] ?? 0;
      for (let i = offsets[v] ?? 0; i < (offsets[v + 1] ?? 0); i += 1) {
        const e = adjacency[i] ?? 0;
        const w = this.to[e] ?? 0;
        if (component[w] !== rootComponent) continue;
        if (w === root) {
          const cycle = [e];
          for (let at = v; at !== root;) {
            const back = parentEdge.get(at) ?? -1;
            cycle.push(back);
            at = this.from[back] ?? root;
          }
          return cycle.reverse();
        }
        if (parentEdge.has(w)) continue;
        parentEdge.set(w, e);
        queue.push(w);
      }
    }
    return [];
  }
}
