// The row primitives of row_math.h compiled with AVX2 flags (the build gives *_avx2.cc files
// -mavx2 -mfma): the same source as the baseline table, 8 float lanes wide instead of 4.
#if defined(__x86_64__)
#include "kernels/row_math.h"

namespace tessera {

const RowOps& row_ops_avx2() {
  static const RowOps ops = rowimpl::make_row_ops();
  return ops;
}

}  // namespace tessera
#endif
