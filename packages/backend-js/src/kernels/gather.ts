/** gather and scatterAdd along one dim (torch.gather / Tensor.scatter_add_ semantics). */

type Arr = { [i: number]: number; length: number };

interface IndexedArgs {
  /** The tensor indexed into (read by gather, written by scatterAdd) and its shape. */
  data: Arr;
  dataOffset: number;
  dataShape: readonly number[];
  index: Arr;
  indexOffset: number;
  /** Shape of index (= out for gather, = src for scatterAdd). */
  indexShape: readonly number[];
  other: Arr;
  otherOffset: number;
  dim: number;
}

function walk(op: "gather" | "scatterAdd", args: IndexedArgs): void {
  const { data, dataShape, index, indexShape, other, dim } = args;
  const rank = indexShape.length;
  const n = indexShape.reduce((x, y) => x * y, 1);
  const dataStrides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    dataStrides[d] = s;
    s *= dataShape[d]!;
  }
  const size = dataShape[dim] ?? 1;
  const idx = new Array<number>(rank).fill(0);
  let base = args.dataOffset; // data offset of idx with idx[dim] treated as 0
  for (let i = 0; i < n; i++) {
    const k = index[args.indexOffset + i]!;
    if (!(k >= 0 && k < size)) {
      throw new RangeError(`${op}: index ${k} is out of bounds for dim ${dim} with size ${size}`);
    }
    const p = base + k * (rank ? dataStrides[dim]! : 1);
    if (op === "gather") other[args.otherOffset + i] = data[p]!;
    else data[p]! += other[args.otherOffset + i]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      if (d !== dim) base += dataStrides[d]!;
      if (idx[d]! < indexShape[d]!) break;
      if (d !== dim) base -= dataStrides[d]! * indexShape[d]!;
      idx[d] = 0;
    }
  }
}

export function gatherKernel(args: IndexedArgs): void {
  walk("gather", args);
}

export function scatterAddKernel(args: IndexedArgs): void {
  walk("scatterAdd", args);
}
