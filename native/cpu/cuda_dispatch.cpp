// Dispatch of the CUDA half of the C ABI: lens4j_cpu never links CUDA; l4jd_open loads a CUDA library (lens4j_cuda,
// or lens4j_cuda_emu on machines without a GPU) at run time and every l4jd_<name> forwards to its l4jc_<name>.
#include "lens4j_cuda.h"
#include <dlfcn.h>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace {
std::mutex g_open_mutex;
std::atomic<bool> g_loaded{false};
#define L4JD_POINTER(name, params, args) int (*p_##name) params = nullptr;
L4JC_API(L4JD_POINTER)
#undef L4JD_POINTER
}  // namespace

extern "C" int l4jd_open(const char *path, char *err, int err_len) {
    auto fail = [&](const char *what, const char *detail) {
        if (err && err_len > 0) std::snprintf(err, (size_t)err_len, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
        return L4J_ERR_UNSUPPORTED;
    };
    if (!path) return fail("no CUDA library path given", nullptr);
    std::lock_guard<std::mutex> g(g_open_mutex);
    if (g_loaded) return L4J_OK;  // one CUDA library per process
    // RTLD_LOCAL: the library's own l4jc_* calls stay inside it
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return fail("cannot load the CUDA library", dlerror());
    // a function the library lacks returns L4J_ERR_UNSUPPORTED when called (l4jd_missing lists them)
#define L4JD_BIND(name, params, args) p_##name = (int (*) params)dlsym(h, "l4jc_" #name);
    L4JC_API(L4JD_BIND)
#undef L4JD_BIND
    if (!p_device_count || !p_malloc || !p_free || !p_memcpy || !p_last_error) {
        dlclose(h);
        return fail("not a lens4j CUDA library (no l4jc_device_count / malloc / free / memcpy / last_error)", path);
    }
    g_loaded = true;  // never closed: kernels may still run on its streams
    return L4J_OK;
}

extern "C" int l4jd_loaded(void) { return g_loaded ? 1 : 0; }

extern "C" int l4jd_missing(char *buf, int len) {
    if (!buf || len <= 0) return L4J_ERR_ARG;
    std::string names;
#define L4JD_MISSING(name, params, args) if (!p_##name) names += (names.empty() ? "" : " ") + std::string(#name);
    L4JC_API(L4JD_MISSING)
#undef L4JD_MISSING
    std::snprintf(buf, (size_t)len, "%s", names.c_str());
    return L4J_OK;
}

#define L4JD_FORWARD(name, params, args) \
    extern "C" int l4jd_##name params { return g_loaded ? p_##name args : L4J_ERR_UNSUPPORTED; }
L4JC_API(L4JD_FORWARD)
#undef L4JD_FORWARD
