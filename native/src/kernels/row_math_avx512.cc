// The row primitives of row_math.h compiled with AVX-512 flags (the build gives *_avx512.cc files
// -mavx512f…): the same source as the baseline table, 16 float lanes wide instead of 4.
#if defined(__x86_64__)
#include "kernels/row_math.h"

namespace tessera {

const RowOps& row_ops_avx512() {
  static const RowOps ops = rowimpl::make_row_ops();
  return ops;
}

}  // namespace tessera
#endif
