// A product with 4-bit weights: y = x @ W.T for the rows of x (bf16), on AVX-512 with BF16.
//
// Written by hand because torch's _weight_int4pack_mm_for_cpu, which reads the same packed weights,
// turns every 4-bit code into a float before it multiplies: measured on a Zen 4 core it runs at about
// half the speed of this loop, which turns codes into bf16 with one table lookup (vpermw) and multiplies
// pairs of them with one instruction (vdpbf16ps); for more rows both are bound by the arithmetic, and
// this loop still took 0.96-0.99x torch's time (2 to 512 rows). It reads torch's packed codes:
//   packed [n, k/2] uint8: for each block of 64 rows and each input k, 32 bytes -- row j of the block in
//   the low nibble of byte j, row j + 32 in the high one; a weight is (code - 8) * scale + zero.
// and its scales and zeros by block of rows (torch's kernel has them [k/32, n, 2]): each block's are then
// one stretch of memory after its codes' stretch, which streams about 10% faster from memory than
// torch's order, where a block's scales lie in k/32 places n * 4 bytes apart:
//   scales [n/64, k/32, 64, 2] bf16: one scale and zero per row and group of 32 inputs.
// Per group, sum((code - 8) * x) is accumulated in float and scaled once: y += scale * acc + zero * sum(x).
// Each further row of x reads the block again from the CPU's cache, not from memory.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

namespace {

constexpr int64_t kGroup = 32;  // inputs per scale and zero
constexpr int64_t kBlock = 64;  // rows per block of the packed layout

// Byte 2i of the result is byte i of input k, byte 2i + 1 byte i of input k + 1: one row's two inputs
// side by side, as vdpbf16ps multiplies them.
alignas(64) const uint8_t kPairs[64] = {
#define PAIR(i) (uint8_t)(i), (uint8_t)(32 + (i))
    PAIR(0),  PAIR(1),  PAIR(2),  PAIR(3),  PAIR(4),  PAIR(5),  PAIR(6),  PAIR(7),
    PAIR(8),  PAIR(9),  PAIR(10), PAIR(11), PAIR(12), PAIR(13), PAIR(14), PAIR(15),
    PAIR(16), PAIR(17), PAIR(18), PAIR(19), PAIR(20), PAIR(21), PAIR(22), PAIR(23),
    PAIR(24), PAIR(25), PAIR(26), PAIR(27), PAIR(28), PAIR(29), PAIR(30), PAIR(31)
#undef PAIR
};

// code - 8 as bf16 bits, for the code in the low 4 bits of a 5-bit index (vpermw reads 5 bits).
alignas(64) const uint16_t kCodes[32] = {
    0xC100, 0xC0E0, 0xC0C0, 0xC0A0, 0xC080, 0xC040, 0xC000, 0xBF80,
    0x0000, 0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0, 0x40C0, 0x40E0,
    0xC100, 0xC0E0, 0xC0C0, 0xC0A0, 0xC080, 0xC040, 0xC000, 0xBF80,
    0x0000, 0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0, 0x40C0, 0x40E0};

inline __m512 scaled(__m512 out, __m512 acc, const uint32_t* scale_zero, __m512 total) {
  const __m512i both = _mm512_loadu_si512(scale_zero);  // bf16 scale in the low half, zero in the high
  const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(both, 16));
  const __m512 zero = _mm512_castsi512_ps(_mm512_and_si512(both, _mm512_set1_epi32((int)0xFFFF0000)));
  return _mm512_fmadd_ps(zero, total, _mm512_fmadd_ps(scale, acc, out));
}

void block_of_rows(const uint8_t* packed, const uint32_t* scale_zero, const uint16_t* x, const float* sums,
                   int64_t k, int64_t block, uint16_t* y) {
  const __m512i pairs = _mm512_load_si512(kPairs);
  const __m512i codes = _mm512_load_si512(kCodes);
  const uint8_t* rows = packed + block * (kBlock / 2) * k;
  __m512 out0 = _mm512_setzero_ps(), out1 = out0, out2 = out0, out3 = out0;
  for (int64_t g = 0; g < k / kGroup; ++g) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const uint8_t* src = rows + g * kGroup * (kBlock / 2);
    const uint16_t* xs = x + g * kGroup;
    for (int p = 0; p < kGroup / 2; ++p) {  // inputs 2p and 2p + 1 of the group
      _mm_prefetch((const char*)(src + p * kBlock + 1024), _MM_HINT_T0);  // measured: 1-2% faster
      const __m512i both = _mm512_permutexvar_epi8(pairs, _mm512_loadu_si512(src + p * kBlock));
      const __m512i a = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(both));       // rows 0-15 | 32-47
      const __m512i b = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(both, 1));  // rows 16-31 | 48-63
      int32_t two_inputs;
      std::memcpy(&two_inputs, xs + 2 * p, sizeof two_inputs);
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(two_inputs);
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_permutexvar_epi16(a, codes), xb);
      acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_permutexvar_epi16(b, codes), xb);
      acc2 = _mm512_dpbf16_ps(acc2, (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(a, 4), codes), xb);
      acc3 = _mm512_dpbf16_ps(acc3, (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(b, 4), codes), xb);
    }
    const uint32_t* sz = scale_zero + (block * (k / kGroup) + g) * kBlock;
    const __m512 total = _mm512_set1_ps(sums[g]);
    out0 = scaled(out0, acc0, sz, total);
    out1 = scaled(out1, acc1, sz + 16, total);
    out2 = scaled(out2, acc2, sz + 32, total);
    out3 = scaled(out3, acc3, sz + 48, total);
  }
  uint16_t* dst = y + block * kBlock;
  _mm256_storeu_si256((__m256i*)dst, (__m256i)_mm512_cvtneps_pbh(out0));
  _mm256_storeu_si256((__m256i*)(dst + 16), (__m256i)_mm512_cvtneps_pbh(out1));
  _mm256_storeu_si256((__m256i*)(dst + 32), (__m256i)_mm512_cvtneps_pbh(out2));
  _mm256_storeu_si256((__m256i*)(dst + 48), (__m256i)_mm512_cvtneps_pbh(out3));
}

at::Tensor int4_rows_mm(const at::Tensor& x_in, const at::Tensor& packed, const at::Tensor& scales) {
  const at::Tensor x = x_in.contiguous();
  const int64_t n = packed.size(0), k = packed.size(1) * 2, m = x.dim() == 2 ? x.size(0) : 0;
  TORCH_CHECK(x.scalar_type() == at::kBFloat16 && x.dim() == 2 && x.size(1) == k, "int4_rows_mm: bf16 rows of ", k,
              " inputs");
  TORCH_CHECK(packed.scalar_type() == at::kByte && packed.is_contiguous() && n % kBlock == 0 && k % kGroup == 0,
              "int4_rows_mm: packed weights in blocks of 64 rows and groups of 32 inputs");
  TORCH_CHECK(scales.scalar_type() == at::kBFloat16 && scales.is_contiguous() && scales.numel() == 2 * n * (k / kGroup),
              "int4_rows_mm: a scale and zero per row and group, by block of rows");
  const uint16_t* xs = reinterpret_cast<const uint16_t*>(x.data_ptr());
  std::vector<float> sums(m * (k / kGroup));  // each row's sum over each group, for the zeros
  for (int64_t g = 0; g < m * (k / kGroup); ++g) {
    float total = 0;
    for (int64_t i = 0; i < kGroup; ++i) {
      const uint32_t bits = (uint32_t)xs[g * kGroup + i] << 16;
      float value;
      std::memcpy(&value, &bits, sizeof value);
      total += value;
    }
    sums[g] = total;
  }
  at::Tensor y = at::empty({m, n}, x.options());
  const uint8_t* w = packed.data_ptr<uint8_t>();
  const uint32_t* sz = reinterpret_cast<const uint32_t*>(scales.data_ptr());
  uint16_t* ys = reinterpret_cast<uint16_t*>(y.data_ptr());
  // Tasks are (block, slice of rows): a prompt's rows are shared among the threads too, so that a
  // product with few blocks (576 rows: 9) keeps both cores busy; a thread's tasks go block by block.
  constexpr int64_t kRowsPerTask = 16;
  const int64_t slices = (m + kRowsPerTask - 1) / kRowsPerTask;
  at::parallel_for(0, (n / kBlock) * slices, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t block = task / slices, first = (task % slices) * kRowsPerTask;
      for (int64_t row = first; row < std::min(m, first + kRowsPerTask); ++row) {
        block_of_rows(w, sz, xs + row * k, sums.data() + row * (k / kGroup), k, block, ys + row * n);
      }
    }
  });
  return y;
}

// One row's product with int8 weights, one scale per output row (the output head): y = x @ (q * scale).T.
// torch's _weight_int8pack_mm reads the head of Qwen2.5-Coder-0.5B (151,936 x 896) at about half this
// machine's memory speed. Here each thread reads its rows as one stream, row after row, turning 16
// codes at a time into floats, with four sums per row to hide the multiply-add's latency.
constexpr int64_t kRowsAtOnce = 8;

void eight_rows(const int8_t* q, const uint16_t* scale, const float* x, int64_t k, int64_t first, uint16_t* y) {
  for (int64_t r = first; r < first + kRowsAtOnce; ++r) {
    const int8_t* row = q + r * k;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < k; i += 64) {
      _mm_prefetch((const char*)(row + i + 2048), _MM_HINT_T0);
#define CODES(j) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(row + i + 16 * (j)))))
      acc0 = _mm512_fmadd_ps(CODES(0), _mm512_loadu_ps(x + i), acc0);
      acc1 = _mm512_fmadd_ps(CODES(1), _mm512_loadu_ps(x + i + 16), acc1);
      acc2 = _mm512_fmadd_ps(CODES(2), _mm512_loadu_ps(x + i + 32), acc2);
      acc3 = _mm512_fmadd_ps(CODES(3), _mm512_loadu_ps(x + i + 48), acc3);
#undef CODES
    }
    const uint32_t bits = (uint32_t)scale[r] << 16;
    float factor;
    std::memcpy(&factor, &bits, sizeof factor);
    const float value = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3))) * factor;
    uint32_t out;
    std::memcpy(&out, &value, sizeof out);
    y[r] = (uint16_t)((out + 0x7FFF + ((out >> 16) & 1)) >> 16);  // rounded to the nearest bf16, ties to even
  }
}

at::Tensor int8_row_mm(const at::Tensor& x_in, const at::Tensor& q, const at::Tensor& scale) {
  const at::Tensor x = x_in.contiguous().to(at::kFloat);
  const int64_t n = q.size(0), k = q.size(1);
  TORCH_CHECK(x_in.scalar_type() == at::kBFloat16 && x.dim() == 2 && x.size(0) == 1 && x.size(1) == k,
              "int8_row_mm: one bf16 row of ", k, " inputs");
  TORCH_CHECK(q.scalar_type() == at::kChar && q.is_contiguous() && n % kRowsAtOnce == 0 && k % 64 == 0,
              "int8_row_mm: int8 rows in groups of 8, inputs in groups of 64");
  TORCH_CHECK(scale.scalar_type() == at::kBFloat16 && scale.is_contiguous() && scale.numel() == n,
              "int8_row_mm: a bf16 scale per row");
  at::Tensor y = at::empty({1, n}, x_in.options());
  const int8_t* codes = q.data_ptr<int8_t>();
  const uint16_t* scales = reinterpret_cast<const uint16_t*>(scale.data_ptr());
  const float* xs = x.data_ptr<float>();
  uint16_t* ys = reinterpret_cast<uint16_t*>(y.data_ptr());
  at::parallel_for(0, n / kRowsAtOnce, 16, [&](int64_t begin, int64_t end) {
    for (int64_t group = begin; group < end; ++group) eight_rows(codes, scales, xs, k, group * kRowsAtOnce, ys);
  });
  return y;
}

}  // namespace

TORCH_LIBRARY(parrot, m) {
  m.def("int4_rows_mm(Tensor x, Tensor packed, Tensor scales) -> Tensor");
  m.def("int8_row_mm(Tensor x, Tensor q, Tensor scale) -> Tensor");
}

TORCH_LIBRARY_IMPL(parrot, CPU, m) {
  m.impl("int4_rows_mm", &int4_rows_mm);
  m.impl("int8_row_mm", &int8_row_mm);
}
