// Host emulation of the CUDA kernels in kernels/*.cu, for tests on machines without a GPU.
//
// A kernel source is compiled as C++20 after this header: each CUDA thread of a
// block is a std::thread (all threads of a block run at once, so __syncthreads
// is a real barrier and atomics race for real), blocks run one after another.
// Shared memory is one buffer per block; atomics are std::atomic_ref. What this
// cannot show: warp-level behaviour, memory-model subtleties of the device, and
// speed. What it shows: the kernel's logic, its indexing, and (with the Python
// side, tests/cuda_emulator.py) that every launch passes arguments of the types
// and sizes the kernel declares.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};

namespace emu {
inline thread_local dim3 thread_idx, block_idx;
inline dim3 block_dim, grid_dim;
inline thread_local unsigned char* shared = nullptr;
inline thread_local std::barrier<>* barrier = nullptr;
}  // namespace emu

#define threadIdx (emu::thread_idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define __global__
#define __device__ static inline
#define __host__
#define __forceinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define GPUSIIBRA_SHARED(type, name) type* name = reinterpret_cast<type*>(emu::shared)

using std::max;
using std::min;

inline void __syncthreads() { emu::barrier->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <class T, class U>
inline T atomicAdd(T* p, U v) { return std::atomic_ref<T>(*p).fetch_add(static_cast<T>(v)); }
template <class T, class U>
inline T atomicMin(T* p, U v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (static_cast<T>(v) < old && !a.compare_exchange_weak(old, static_cast<T>(v))) {}
    return old;
}
template <class T, class U>
inline T atomicMax(T* p, U v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (static_cast<T>(v) > old && !a.compare_exchange_weak(old, static_cast<T>(v))) {}
    return old;
}
template <class T, class U, class V>
inline T atomicCAS(T* p, U compare, V val) {
    T expected = static_cast<T>(compare);
    std::atomic_ref<T>(*p).compare_exchange_strong(expected, static_cast<T>(val));
    return expected;  // the old value, as CUDA returns it
}
template <class T, class U>
inline T atomicExch(T* p, U v) { return std::atomic_ref<T>(*p).exchange(static_cast<T>(v)); }

namespace emu {
template <class... A, std::size_t... I>
void call(void (*k)(A...), void** argv, std::index_sequence<I...>) {
    k(*static_cast<std::remove_cv_t<A>*>(argv[I])...);
}

template <class... A>
void launch(void (*k)(A...), unsigned grid, unsigned block, std::size_t shmem, void** argv) {
    block_dim = dim3{block, 1, 1};
    grid_dim = dim3{grid, 1, 1};
    std::vector<unsigned char> sh(shmem + 64, 0xA5);  // garbage, as on the device: kernels must initialise it
    std::barrier<> bar(static_cast<std::ptrdiff_t>(block));
    std::vector<std::thread> threads;
    threads.reserve(block);
    // one std::thread per CUDA thread of a block; the blocks run one after another on the same threads
    for (unsigned t = 0; t < block; ++t)
        threads.emplace_back([&, t] {
            thread_idx = dim3{t, 1, 1};
            shared = sh.data();
            barrier = &bar;
            for (unsigned b = 0; b < grid; ++b) {
                block_idx = dim3{b, 1, 1};
                call(k, argv, std::index_sequence_for<A...>{});
                bar.arrive_and_wait();  // the block is done
                if (t == 0) std::fill(sh.begin(), sh.end(), static_cast<unsigned char>(0xA5 ^ b));
                bar.arrive_and_wait();  // fresh garbage for the next block
            }
        });
    for (auto& th : threads) th.join();
}

// per parameter: its size for a value, 1000 + the pointee's size for a pointer
template <class T>
constexpr int code() {
    if constexpr (std::is_pointer_v<T>)
        return 1000 + static_cast<int>(sizeof(std::remove_pointer_t<T>));
    else
        return static_cast<int>(sizeof(T));
}
template <class... A>
constexpr int nargs(void (*)(A...)) { return sizeof...(A); }
template <class... A>
void signature(void (*)(A...), int* out) {
    int i = 0;
    ((out[i++] = code<A>()), ...);
}
}  // namespace emu
