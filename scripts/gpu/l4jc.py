"""ctypes over lens4j's C ABI, typed from the L4JC_API X-macro list of native/include/lens4j_cuda.h.

Three kinds of library, one calling convention (pointers are torch tensors' data_ptr() on the tensors' device):
  cuda  liblens4j_cuda.so      l4jc_<name>(..., stream)  GPU kernels (torch tensors on 'cuda')
  emu   liblens4j_cuda_emu.so  l4jc_<name>(..., stream)  the same .cu sources on the CPU emulation ('cpu' tensors)
  cpu   liblens4j_cpu.so       l4j_<name>(...)           the CPU twins (no stream)
A function the library lacks is reported by name (Kernels.missing), never faked."""
import ctypes
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / 'native/include/lens4j_cuda.h'
L4J_OK = 0

_CTYPES = [  # C parameter type (normalised) -> ctypes type
    (r'^(const )?(float|double|int32_t|int64_t|uint16_t|char|void) \*$', ctypes.c_void_p),
    (r'^void \*\*$', ctypes.c_void_p),
    (r'^int64_t$', ctypes.c_int64),
    (r'^int$', ctypes.c_int),
    (r'^float$', ctypes.c_float),
]


def api_entries(header=HEADER):
    """[(name, [(ctype, param_name)], group)] in header order, from the L4JC_API_<GROUP> lists."""
    text = pathlib.Path(header).read_text()
    out = []
    for group, body in re.findall(r'#define L4JC_API_(\w+)\(X\)((?:.*\\\n)+.*)', text):
        for name, params in re.findall(r'X\((\w+), \(([^)]*)\), \([^)]*\)\)', body):
            ps = []
            if params.strip() != 'void':
                for p in params.split(','):
                    m = re.match(r'^(.*?)(\w+)$', p.strip())
                    ctype = re.sub(r'\s*\*\s*', ' *', ' '.join(m.group(1).split())).replace('* *', '**').strip()
                    ps.append((ctype, m.group(2)))
            out.append((name, ps, group.lower()))
    return out


def _ctype(ctype):
    for pattern, t in _CTYPES:
        if re.match(pattern, ctype):
            return t
    raise ValueError(f'no ctypes type for C type {ctype!r}')


class KernelError(RuntimeError):
    pass


class Kernels:
    """k.<name>(args...) calls l4jc_<name>(args..., stream) (cuda / emu) or l4j_<name>(args...) (cpu) and raises
    KernelError on a non-OK status. Tensor arguments may be passed as torch tensors (their data_ptr() is used)."""

    def __init__(self, path, kind):
        if kind not in ('cuda', 'emu', 'cpu'):
            raise ValueError(f'kind must be cuda, emu or cpu, not {kind!r}')
        self.kind, self.path = kind, str(path)
        self.lib = ctypes.CDLL(self.path, mode=ctypes.RTLD_LOCAL)
        self.stream = None
        self._fns, self.missing = {}, []
        for name, params, group in api_entries():
            if kind == 'cpu':
                if group == 'runtime' and name != 'add':
                    continue  # memory / streams: the CPU library has none (torch owns the memory)
                params = params[:-1] if params and params[-1][1] == 'stream' else params
                symbol = 'l4j_' + name
            else:
                symbol = 'l4jc_' + name
            fn = getattr(self.lib, symbol, None)
            if fn is None:
                self.missing.append(name)
                continue
            fn.restype = ctypes.c_int
            fn.argtypes = [_ctype(c) for c, _ in params]
            self._fns[name] = (fn, [p for _, p in params])
        if kind != 'cpu':
            if self.lib.l4jc_is_emulated() != (1 if kind == 'emu' else 0):
                raise KernelError(f'{path} is {"not " if kind == "emu" else ""}the emulated library')
            if self.lib.l4jc_device_count() <= 0:
                raise KernelError(f'{path}: no CUDA device (cudaGetDeviceCount reports none)')

    @property
    def device(self):
        return 'cuda' if self.kind == 'cuda' else 'cpu'

    def has(self, *names):
        return all(n in self._fns for n in names)

    def lacking(self, *names):
        return [n for n in names if n not in self._fns]

    def device_name(self):
        if self.kind == 'cpu':
            return 'CPU (lens4j_cpu)'
        buf = ctypes.create_string_buffer(256)
        self.lib.l4jc_device_name(0, buf, 256)
        return buf.value.decode()

    def last_error(self):
        if self.kind == 'cpu':
            return ''
        buf = ctypes.create_string_buffer(512)
        self.lib.l4jc_last_error(buf, 512)
        return buf.value.decode()

    def synchronize(self):
        if self.kind != 'cpu':
            self._check(self.lib.l4jc_synchronize(), 'synchronize')

    def _check(self, status, name):
        if status != L4J_OK:
            raise KernelError(f'{name} returned status {status} {self.last_error()}'.strip())

    def __getattr__(self, name):
        entry = self.__dict__.get('_fns', {}).get(name)
        if entry is None:
            raise AttributeError(f'{name}: not in {self.path}' if name in self.__dict__.get('missing', []) else name)
        fn, params = entry

        def call(*args):
            # `args` keeps temporary tensors alive until fn returns: only their addresses go to C
            raw = [a.data_ptr() if hasattr(a, 'data_ptr') else a for a in args]
            if self.kind != 'cpu' and len(raw) == len(params) - 1 and params[-1] == 'stream':
                raw.append(self.stream)
            if len(raw) != len(params):
                raise TypeError(f'{name} takes {len(params)} arguments ({", ".join(params)}), got {len(raw)}')
            self._check(fn(*raw), name)
        return call


def default_library(build_dir, kind):
    return pathlib.Path(build_dir) / {'cuda': 'liblens4j_cuda.so', 'emu': 'liblens4j_cuda_emu.so', 'cpu': 'liblens4j_cpu.so'}[kind]
