// FlashAttention-2 forward and backward on tensor cores (spec §5). One block of four warps owns a
// 64-row tile: the forward and the dQ pass own query tiles, the dK/dV pass owns key tiles, so no
// atomics are needed and results are deterministic. Products run through WMMA 16x16x16 fragments
// with fp16/bf16 inputs and fp32 accumulation; softmax statistics stay fp32.
#include "flash2_kernels.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>
#include <type_traits>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "flash2 CUDA kernels need sm_80 or newer (bf16 WMMA); set CMAKE_CUDA_ARCHITECTURES to 80 or above"
#endif

namespace lab::flash2::cuda {

namespace {

using namespace nvcuda;

constexpr int kTile = 64;  // Br = Bc
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
struct Convert;
template <>
struct Convert<__half> {
  __device__ static float to_float(__half x) { return __half2float(x); }
  __device__ static __half from_float(float x) { return __float2half(x); }
};
template <>
struct Convert<__nv_bfloat16> {
  __device__ static float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ static __nv_bfloat16 from_float(float x) { return __float2bfloat16(x); }
};

__host__ __device__ constexpr int pad16(int64_t d) { return static_cast<int>((d + 15) / 16 * 16); }

// Carves dynamic shared memory into 128-byte aligned pieces (WMMA needs 32-byte aligned tiles).
struct Carver {
  size_t used = 0;
  __host__ __device__ size_t take(size_t bytes) {
    const size_t at = used;
    used += (bytes + 127) / 128 * 128;
    return at;
  }
};

// Shared-memory layout of each kernel; identical on host (for the size) and device (for pointers).
struct ForwardLayout {
  size_t q, k, v, s, p, o, m, l, alpha, bytes;
  template <typename T>
  __host__ __device__ ForwardLayout(int dkp, int dvp, T*) {
    Carver c;
    q = c.take(sizeof(T) * kTile * dkp);
    k = c.take(sizeof(T) * kTile * dkp);
    v = c.take(sizeof(T) * kTile * dvp);
    s = c.take(sizeof(float) * kTile * kTile);
    p = c.take(sizeof(T) * kTile * kTile);
    o = c.take(sizeof(float) * kTile * dvp);
    m = c.take(sizeof(float) * kTile);
    l = c.take(sizeof(float) * kTile);
    alpha = c.take(sizeof(float) * kTile);
    bytes = c.used;
  }
};

// Used by both backward passes: acc is dK and dV (key pass) or dQ (query pass).
struct BackwardLayout {
  size_t q, dout, k, v, s, p, ds, acc1, acc2, lse, delta, bytes;
  template <typename T>
  __host__ __device__ BackwardLayout(int dkp, int dvp, bool key_pass, T*) {
    Carver c;
    q = c.take(sizeof(T) * kTile * dkp);
    dout = c.take(sizeof(T) * kTile * dvp);
    k = c.take(sizeof(T) * kTile * dkp);
    v = c.take(sizeof(T) * kTile * dvp);
    s = c.take(sizeof(float) * kTile * kTile);
    p = c.take(sizeof(T) * kTile * kTile);
    ds = c.take(sizeof(T) * kTile * kTile);
    acc1 = c.take(sizeof(float) * kTile * dkp);                 // dK or dQ
    acc2 = key_pass ? c.take(sizeof(float) * kTile * dvp) : 0;  // dV
    lse = c.take(sizeof(float) * kTile);
    delta = c.take(sizeof(float) * kTile);
    bytes = c.used;
  }
};

// C[m x n] (fp32 row-major, ldc) = (accumulate ? C : 0) + A[m x k] · B[k x n], 16x16 output
// fragments spread over the block's warps. Layouts say how A and B sit in shared memory: element
// (r, c) is at r*ld + c (row_major) or c*ld + r (col_major). m, n, k are multiples of 16.
template <typename T, typename ALayout, typename BLayout>
__device__ void block_gemm(float* c, int ldc, const T* a, int lda, const T* b, int ldb, int m, int n, int k,
                           bool accumulate) {
  constexpr bool a_rows = std::is_same<ALayout, wmma::row_major>::value;
  constexpr bool b_rows = std::is_same<BLayout, wmma::row_major>::value;
  const int warp = threadIdx.x / 32;
  const int tiles_n = n / 16;
  for (int t = warp; t < (m / 16) * tiles_n; t += kWarps) {
    const int tm = t / tiles_n * 16, tn = t % tiles_n * 16;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    if (accumulate) {
      wmma::load_matrix_sync(acc, c + tm * ldc + tn, ldc, wmma::mem_row_major);
    } else {
      wmma::fill_fragment(acc, 0.0f);
    }
    for (int kk = 0; kk < k; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, ALayout> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, BLayout> fb;
      wmma::load_matrix_sync(fa, a_rows ? a + tm * lda + kk : a + kk * lda + tm, lda);
      wmma::load_matrix_sync(fb, b_rows ? b + kk * ldb + tn : b + tn * ldb + kk, ldb);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(c + tm * ldc + tn, acc, ldc, wmma::mem_row_major);
  }
}

// Rows [row0, row0 + 64) of a [rows x d] matrix into a [64 x ld] tile, zero-padded past the edges.
template <typename T>
__device__ void load_tile(T* dst, int ld, const T* src, int64_t rows, int64_t row0, int64_t d) {
  for (int idx = threadIdx.x; idx < kTile * ld; idx += kThreads) {
    const int r = idx / ld, col = idx % ld;
    const int64_t row = row0 + r;
    dst[idx] = (row < rows && col < d) ? src[row * d + col] : Convert<T>::from_float(0.0f);
  }
}

__device__ bool visible(const Sizes& s, int64_t i, int64_t j) {
  return i < s.tq && j < s.tk && (!s.causal || j <= i + (s.tk - s.tq));
}

// One past the last key any query row in [i0, i1) sees: later key tiles are skipped entirely.
__host__ __device__ int64_t key_end(const Sizes& s, int64_t i0) {
  const int64_t i1 = i0 + kTile < s.tq ? i0 + kTile : s.tq;
  if (!s.causal) return s.tk;
  const int64_t end = i1 + (s.tk - s.tq);
  return end < 0 ? 0 : (end > s.tk ? s.tk : end);
}

__device__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(kFullMask, x, o));
  return x;
}
__device__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(kFullMask, x, o);
  return x;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) forward_kernel(ForwardArgs args) {
  const Sizes s = args.sizes;
  const int dkp = pad16(s.dk), dvp = pad16(s.dv);
  const int64_t q_tiles = (s.tq + kTile - 1) / kTile;
  const int64_t bh = blockIdx.x / q_tiles, i0 = blockIdx.x % q_tiles * kTile;
  extern __shared__ __align__(128) unsigned char smem[];
  const ForwardLayout L(dkp, dvp, static_cast<T*>(nullptr));
  T* q_s = reinterpret_cast<T*>(smem + L.q);
  T* k_s = reinterpret_cast<T*>(smem + L.k);
  T* v_s = reinterpret_cast<T*>(smem + L.v);
  float* s_s = reinterpret_cast<float*>(smem + L.s);
  T* p_s = reinterpret_cast<T*>(smem + L.p);
  float* o_s = reinterpret_cast<float*>(smem + L.o);
  float* m_s = reinterpret_cast<float*>(smem + L.m);
  float* l_s = reinterpret_cast<float*>(smem + L.l);
  float* alpha_s = reinterpret_cast<float*>(smem + L.alpha);

  const T* q = static_cast<const T*>(args.q) + bh * s.tq * s.dk;
  const T* k = static_cast<const T*>(args.k) + bh * s.tk * s.dk;
  const T* v = static_cast<const T*>(args.v) + bh * s.tk * s.dv;
  load_tile(q_s, dkp, q, s.tq, i0, s.dk);
  for (int idx = threadIdx.x; idx < kTile * dvp; idx += kThreads) o_s[idx] = 0.0f;
  if (threadIdx.x < kTile) {
    m_s[threadIdx.x] = -INFINITY;
    l_s[threadIdx.x] = 0.0f;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t kv_end = key_end(s, i0);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kTile) {
    __syncthreads();  // the previous tile's readers are done with k_s, v_s, p_s
    load_tile(k_s, dkp, k, s.tk, j0, s.dk);
    load_tile(v_s, dvp, v, s.tk, j0, s.dv);
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::col_major>(s_s, kTile, q_s, dkp, k_s, dkp, kTile, kTile, dkp, false);
    __syncthreads();
    // Online softmax: each warp owns rows warp, warp+4, ...; each lane two columns.
    for (int r = warp; r < kTile; r += kWarps) {
      const int64_t i = i0 + r;
      float x[2];
      float row_max = -INFINITY;
      for (int h = 0; h < 2; ++h) {
        const int col = lane + 32 * h;
        x[h] = visible(s, i, j0 + col) ? s_s[r * kTile + col] * s.scale : -INFINITY;
        row_max = fmaxf(row_max, x[h]);
      }
      row_max = warp_max(row_max);
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, row_max);
      float sum = 0.0f;
      for (int h = 0; h < 2; ++h) {
        const float p = m_new == -INFINITY ? 0.0f : __expf(x[h] - m_new);  // never -inf - -inf
        p_s[r * kTile + lane + 32 * h] = Convert<T>::from_float(p);
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float alpha = m_new == -INFINITY ? 1.0f : __expf(m_old - m_new);
        alpha_s[r] = alpha;
        l_s[r] = alpha * l_s[r] + sum;
        m_s[r] = m_new;
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < kTile * dvp; idx += kThreads) o_s[idx] *= alpha_s[idx / dvp];
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::row_major>(o_s, dvp, p_s, kTile, v_s, dvp, kTile, dvp, kTile, true);
  }
  __syncthreads();
  T* out = static_cast<T*>(args.out) + bh * s.tq * s.dv;
  for (int idx = threadIdx.x; idx < kTile * dvp; idx += kThreads) {
    const int r = idx / dvp, col = idx % dvp;
    const int64_t i = i0 + r;
    if (i >= s.tq || col >= s.dv) continue;
    const float l = l_s[r];
    out[i * s.dv + col] = Convert<T>::from_float(l > 0.0f ? o_s[idx] / l : 0.0f);
  }
  if (threadIdx.x < kTile && i0 + threadIdx.x < s.tq) {
    const float l = l_s[threadIdx.x];
    args.lse[bh * s.tq + i0 + threadIdx.x] = l > 0.0f ? m_s[threadIdx.x] + logf(l) : INFINITY;
  }
}

// D = rowsum(dO ∘ O) in fp32, one warp per row.
template <typename T>
__global__ void __launch_bounds__(kThreads) delta_kernel(BackwardArgs args) {
  const Sizes s = args.sizes;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= s.bh * s.tq) return;
  const T* o = static_cast<const T*>(args.out) + row * s.dv;
  const T* d = static_cast<const T*>(args.dout) + row * s.dv;
  float sum = 0.0f;
  for (int64_t c = threadIdx.x % 32; c < s.dv; c += 32)
    sum += Convert<T>::to_float(o[c]) * Convert<T>::to_float(d[c]);
  sum = warp_sum(sum);
  if (threadIdx.x % 32 == 0) args.delta[row] = sum;
}

// Loads query tile i0 (Q, dO, LSE, D); rows past the end get LSE = +inf so their P is 0.
template <typename T>
__device__ void load_query_side(const BackwardArgs& a, int64_t bh, int64_t i0, T* q_s, T* do_s, float* lse_s,
                                float* delta_s, int dkp, int dvp) {
  const Sizes& s = a.sizes;
  load_tile(q_s, dkp, static_cast<const T*>(a.q) + bh * s.tq * s.dk, s.tq, i0, s.dk);
  load_tile(do_s, dvp, static_cast<const T*>(a.dout) + bh * s.tq * s.dv, s.tq, i0, s.dv);
  if (threadIdx.x < kTile) {
    const int64_t i = i0 + threadIdx.x;
    lse_s[threadIdx.x] = i < s.tq ? a.lse[bh * s.tq + i] : INFINITY;
    delta_s[threadIdx.x] = i < s.tq ? a.delta[bh * s.tq + i] : 0.0f;
  }
}

// P = exp(σ·S − LSE) into p_s (masked and LSE=+inf rows give 0), from the raw scores in s_s.
template <typename T>
__device__ void probabilities(const Sizes& s, int64_t i0, int64_t j0, const float* s_s, const float* lse_s,
                              T* p_s) {
  for (int idx = threadIdx.x; idx < kTile * kTile; idx += kThreads) {
    const int r = idx / kTile, col = idx % kTile;
    const float p = visible(s, i0 + r, j0 + col) ? __expf(s_s[idx] * s.scale - lse_s[r]) : 0.0f;
    p_s[idx] = Convert<T>::from_float(p);
  }
}

// dS = σ · P ∘ (dP − D) into ds_s, with dP in s_s (σ folded in, so dQ = dS K and dK = dSᵀ Q).
template <typename T>
__device__ void score_gradient(const Sizes& s, const float* dp_s, const T* p_s, const float* delta_s,
                               T* ds_s) {
  for (int idx = threadIdx.x; idx < kTile * kTile; idx += kThreads) {
    const float p = Convert<T>::to_float(p_s[idx]);
    ds_s[idx] = Convert<T>::from_float(s.scale * p * (dp_s[idx] - delta_s[idx / kTile]));
  }
}

template <typename T>
__device__ void store_tile(T* dst, const float* acc, int ld, int64_t rows, int64_t row0, int64_t d) {
  for (int idx = threadIdx.x; idx < kTile * ld; idx += kThreads) {
    const int r = idx / ld, col = idx % ld;
    if (row0 + r < rows && col < d) dst[(row0 + r) * d + col] = Convert<T>::from_float(acc[idx]);
  }
}

// dK and dV of one key tile, looping over the query tiles that see it.
template <typename T>
__global__ void __launch_bounds__(kThreads) key_pass_kernel(BackwardArgs args) {
  const Sizes s = args.sizes;
  const int dkp = pad16(s.dk), dvp = pad16(s.dv);
  const int64_t k_tiles = (s.tk + kTile - 1) / kTile;
  const int64_t bh = blockIdx.x / k_tiles, j0 = blockIdx.x % k_tiles * kTile;
  extern __shared__ __align__(128) unsigned char smem[];
  const BackwardLayout L(dkp, dvp, true, static_cast<T*>(nullptr));
  T* q_s = reinterpret_cast<T*>(smem + L.q);
  T* do_s = reinterpret_cast<T*>(smem + L.dout);
  T* k_s = reinterpret_cast<T*>(smem + L.k);
  T* v_s = reinterpret_cast<T*>(smem + L.v);
  float* s_s = reinterpret_cast<float*>(smem + L.s);
  T* p_s = reinterpret_cast<T*>(smem + L.p);
  T* ds_s = reinterpret_cast<T*>(smem + L.ds);
  float* dk_s = reinterpret_cast<float*>(smem + L.acc1);
  float* dv_s = reinterpret_cast<float*>(smem + L.acc2);
  float* lse_s = reinterpret_cast<float*>(smem + L.lse);
  float* delta_s = reinterpret_cast<float*>(smem + L.delta);

  load_tile(k_s, dkp, static_cast<const T*>(args.k) + bh * s.tk * s.dk, s.tk, j0, s.dk);
  load_tile(v_s, dvp, static_cast<const T*>(args.v) + bh * s.tk * s.dv, s.tk, j0, s.dv);
  for (int idx = threadIdx.x; idx < kTile * dkp; idx += kThreads) dk_s[idx] = 0.0f;
  for (int idx = threadIdx.x; idx < kTile * dvp; idx += kThreads) dv_s[idx] = 0.0f;
  // Query rows before the first that sees key j0 contribute nothing (causal block skipping).
  int64_t first = s.causal ? j0 - (s.tk - s.tq) : 0;
  first = first < 0 ? 0 : first / kTile * kTile;
  for (int64_t i0 = first; i0 < s.tq; i0 += kTile) {
    __syncthreads();
    load_query_side(args, bh, i0, q_s, do_s, lse_s, delta_s, dkp, dvp);
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::col_major>(s_s, kTile, q_s, dkp, k_s, dkp, kTile, kTile, dkp, false);
    __syncthreads();
    probabilities(s, i0, j0, s_s, lse_s, p_s);
    __syncthreads();
    // dV += Pᵀ dO (Pᵀ read column-major from P) and dP = dO Vᵀ (into s_s).
    block_gemm<T, wmma::col_major, wmma::row_major>(dv_s, dvp, p_s, kTile, do_s, dvp, kTile, dvp, kTile,
                                                    true);
    block_gemm<T, wmma::row_major, wmma::col_major>(s_s, kTile, do_s, dvp, v_s, dvp, kTile, kTile, dvp,
                                                    false);
    __syncthreads();
    score_gradient(s, s_s, p_s, delta_s, ds_s);
    __syncthreads();
    block_gemm<T, wmma::col_major, wmma::row_major>(dk_s, dkp, ds_s, kTile, q_s, dkp, kTile, dkp, kTile,
                                                    true);
  }
  __syncthreads();
  store_tile(static_cast<T*>(args.dk) + bh * s.tk * s.dk, dk_s, dkp, s.tk, j0, s.dk);
  store_tile(static_cast<T*>(args.dv) + bh * s.tk * s.dv, dv_s, dvp, s.tk, j0, s.dv);
}

// dQ of one query tile, recomputing P and dS for every key tile it sees.
template <typename T>
__global__ void __launch_bounds__(kThreads) query_pass_kernel(BackwardArgs args) {
  const Sizes s = args.sizes;
  const int dkp = pad16(s.dk), dvp = pad16(s.dv);
  const int64_t q_tiles = (s.tq + kTile - 1) / kTile;
  const int64_t bh = blockIdx.x / q_tiles, i0 = blockIdx.x % q_tiles * kTile;
  extern __shared__ __align__(128) unsigned char smem[];
  const BackwardLayout L(dkp, dvp, false, static_cast<T*>(nullptr));
  T* q_s = reinterpret_cast<T*>(smem + L.q);
  T* do_s = reinterpret_cast<T*>(smem + L.dout);
  T* k_s = reinterpret_cast<T*>(smem + L.k);
  T* v_s = reinterpret_cast<T*>(smem + L.v);
  float* s_s = reinterpret_cast<float*>(smem + L.s);
  T* p_s = reinterpret_cast<T*>(smem + L.p);
  T* ds_s = reinterpret_cast<T*>(smem + L.ds);
  float* dq_s = reinterpret_cast<float*>(smem + L.acc1);
  float* lse_s = reinterpret_cast<float*>(smem + L.lse);
  float* delta_s = reinterpret_cast<float*>(smem + L.delta);

  load_query_side(args, bh, i0, q_s, do_s, lse_s, delta_s, dkp, dvp);
  for (int idx = threadIdx.x; idx < kTile * dkp; idx += kThreads) dq_s[idx] = 0.0f;
  const T* k = static_cast<const T*>(args.k) + bh * s.tk * s.dk;
  const T* v = static_cast<const T*>(args.v) + bh * s.tk * s.dv;
  const int64_t kv_end = key_end(s, i0);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kTile) {
    __syncthreads();
    load_tile(k_s, dkp, k, s.tk, j0, s.dk);
    load_tile(v_s, dvp, v, s.tk, j0, s.dv);
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::col_major>(s_s, kTile, q_s, dkp, k_s, dkp, kTile, kTile, dkp, false);
    __syncthreads();
    probabilities(s, i0, j0, s_s, lse_s, p_s);
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::col_major>(s_s, kTile, do_s, dvp, v_s, dvp, kTile, kTile, dvp,
                                                    false);
    __syncthreads();
    score_gradient(s, s_s, p_s, delta_s, ds_s);
    __syncthreads();
    block_gemm<T, wmma::row_major, wmma::row_major>(dq_s, dkp, ds_s, kTile, k_s, dkp, kTile, dkp, kTile,
                                                    true);
  }
  __syncthreads();
  store_tile(static_cast<T*>(args.dq) + bh * s.tq * s.dk, dq_s, dkp, s.tq, i0, s.dk);
}

// Raises the kernel's dynamic shared-memory limit when it needs more than the default 48 KiB.
template <typename Kernel>
cudaError_t allow_shared(Kernel kernel, size_t bytes) {
  if (bytes <= 48 * 1024) return cudaSuccess;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
}

bool valid(const Sizes& s) {
  return s.dk >= 1 && s.dv >= 1 && s.dk <= kMaxHeadDim && s.dv <= kMaxHeadDim && s.bh >= 0 && s.tq >= 0 &&
         s.tk >= 0;
}

template <typename T>
cudaError_t forward_typed(const ForwardArgs& a, cudaStream_t stream) {
  const Sizes& s = a.sizes;
  if (!valid(s)) return cudaErrorInvalidValue;
  if (s.bh * s.tq == 0) return cudaSuccess;
  const ForwardLayout L(pad16(s.dk), pad16(s.dv), static_cast<T*>(nullptr));
  if (cudaError_t e = allow_shared(forward_kernel<T>, L.bytes); e != cudaSuccess) return e;
  const int64_t blocks = s.bh * ((s.tq + kTile - 1) / kTile);
  forward_kernel<T><<<static_cast<unsigned>(blocks), kThreads, L.bytes, stream>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t backward_typed(const BackwardArgs& a, cudaStream_t stream) {
  const Sizes& s = a.sizes;
  if (!valid(s)) return cudaErrorInvalidValue;
  if (s.bh * s.tq == 0 || s.tk == 0) {
    // Nothing attends: every gradient is zero.
    const size_t bytes = sizeof(T);
    cudaMemsetAsync(a.dq, 0, bytes * s.bh * s.tq * s.dk, stream);
    cudaMemsetAsync(a.dk, 0, bytes * s.bh * s.tk * s.dk, stream);
    cudaMemsetAsync(a.dv, 0, bytes * s.bh * s.tk * s.dv, stream);
    return cudaGetLastError();
  }
  const int dkp = pad16(s.dk), dvp = pad16(s.dv);
  delta_kernel<T><<<static_cast<unsigned>((s.bh * s.tq + kWarps - 1) / kWarps), kThreads, 0, stream>>>(a);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  const BackwardLayout keys(dkp, dvp, true, static_cast<T*>(nullptr));
  if (cudaError_t e = allow_shared(key_pass_kernel<T>, keys.bytes); e != cudaSuccess) return e;
  key_pass_kernel<T>
      <<<static_cast<unsigned>(s.bh * ((s.tk + kTile - 1) / kTile)), kThreads, keys.bytes, stream>>>(a);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  const BackwardLayout queries(dkp, dvp, false, static_cast<T*>(nullptr));
  if (cudaError_t e = allow_shared(query_pass_kernel<T>, queries.bytes); e != cudaSuccess) return e;
  query_pass_kernel<T>
      <<<static_cast<unsigned>(s.bh * ((s.tq + kTile - 1) / kTile)), kThreads, queries.bytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t forward(const ForwardArgs& args, Element element, cudaStream_t stream) {
  return element == Element::Half ? forward_typed<__half>(args, stream)
                                  : forward_typed<__nv_bfloat16>(args, stream);
}

cudaError_t backward(const BackwardArgs& args, Element element, cudaStream_t stream) {
  return element == Element::Half ? backward_typed<__half>(args, stream)
                                  : backward_typed<__nv_bfloat16>(args, stream);
}

}  // namespace lab::flash2::cuda
