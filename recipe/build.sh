#!/usr/bin/env bash
# Build of the pytorch package on Linux and macOS, run by conda-build in the work dir.
#
# Inputs:
# - variant keys exported by conda-build: blas_impl, gpu_variant, cuda_compiler_version,
#   c_stdlib_version, MACOSX_SDK_VERSION (macOS) (conda_build_config.yaml);
# - conda-build's own variables: SRC_DIR, PREFIX, BUILD_PREFIX, PYTHON, CPU_COUNT, PKG_VERSION,
#   target_platform, and the compiler flags of the activated compilers (CFLAGS, CXXFLAGS, LDFLAGS,
#   CMAKE_ARGS, CONDA_BUILD_SYSROOT);
# - the development knobs listed in meta.yaml `build: script_env` (table in CONTRIBUTING.md):
#   TORCH_CUDA_ARCH_LIST, PYTORCH_CCACHE, CCACHE_CONFIGPATH, MAX_JOBS. With none of them set this
#   script builds the release configuration.
set -euo pipefail

fail() {
    echo "build.sh: error: $*" >&2
    exit 1
}
note() {
    echo "build.sh: $*"
}

: "${SRC_DIR:?SRC_DIR is not set; build.sh runs under conda-build}"
: "${PREFIX:?PREFIX is not set; build.sh runs under conda-build}"
: "${PYTHON:?PYTHON is not set; build.sh runs under conda-build}"

blas_impl="${blas_impl:-}"
gpu_variant="${gpu_variant:-cpu}"
cuda_compiler_version="${cuda_compiler_version:-None}"
target_platform="${target_platform:-}"
c_stdlib_version="${c_stdlib_version:-}"

# PyTorch's setup.py imports the top-level `tools` package of its own source tree; a `tools`
# directory from anywhere else on PYTHONPATH (this repo has one) would shadow it.
if [[ -n "${PYTHONPATH:-}" ]]; then
    note "PYTHONPATH is ignored for the PyTorch build (was: ${PYTHONPATH})"
    unset PYTHONPATH
fi

# --- BLAS ----------------------------------------------------------------------------------------
case "${blas_impl}" in
    mkl)
        export BLAS=MKL
        ;;
    openblas)
        export BLAS=OpenBLAS
        export OpenBLAS_HOME="${PREFIX}"
        ;;
    *)
        fail "unknown blas_impl '${blas_impl}' (known: mkl, openblas); fix the variant config"
        ;;
esac

# --- GPU flavour ---------------------------------------------------------------------------------
case "${gpu_variant}" in
    cpu | metal) is_cuda=0 ;;
    cuda-*) is_cuda=1 ;;
    *) fail "unknown gpu_variant '${gpu_variant}' (known: cpu, metal, cuda-X.Y); fix the variant config" ;;
esac
if [[ "${is_cuda}" == 1 && "${gpu_variant#cuda-}" != "${cuda_compiler_version}" ]]; then
    fail "gpu_variant '${gpu_variant}' does not match cuda_compiler_version '${cuda_compiler_version}'; they must be zipped"
fi
if [[ "${is_cuda}" == 0 && "${cuda_compiler_version}" != "None" ]]; then
    fail "gpu_variant '${gpu_variant}' with cuda_compiler_version '${cuda_compiler_version}'; use None for non-CUDA variants"
fi

if [[ "${is_cuda}" == 1 ]]; then
    # Release lists of compute capabilities per CUDA version. One source: the lists of
    # conda-forge/pytorch-cpu-feedstock's recipe/build.sh (commit 74dd3d46ff0c, linux-64), so a
    # package of ours runs on the GPUs a conda-forge one runs on. (PyTorch's own wheels use other
    # lists: .ci/manywheel/build_cuda.sh in pytorch/pytorch.) recipe/bld.bat has the same lists.
    case "${cuda_compiler_version}" in
        12.8 | 12.9) release_arch_list="5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX" ;;
        13.0) release_arch_list="7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX" ;;
        *) fail "no release CUDA architecture list for CUDA ${cuda_compiler_version} (known: 12.8, 12.9, 13.0); add one to recipe/build.sh" ;;
    esac
    if [[ -n "${TORCH_CUDA_ARCH_LIST:-}" ]]; then
        note "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST} from the environment (release list: ${release_arch_list})"
    else
        TORCH_CUDA_ARCH_LIST="${release_arch_list}"
    fi
    export TORCH_CUDA_ARCH_LIST
    export USE_CUDA=1
    export USE_CUDNN=1
    export USE_STATIC_CUDNN=0
    export USE_STATIC_NCCL=0
    export USE_SYSTEM_NCCL=1
    export USE_MKLDNN=1
    export CUDA_VERSION="${cuda_compiler_version}"
    # The toolkit is split: nvcc (compiler('cuda')) is in the build prefix, the libraries and
    # headers the package links against are in the host prefix. Point every one of PyTorch's CUDA
    # lookups at the right one; CMake reads CUDAToolkit_ROOT from the environment itself, the rest
    # reach it as -D options through CMAKE_ARGS, and the compiler through CMAKE_CUDA_COMPILER
    # (CMAKE_* variables are forwarded to CMake by PyTorch's build).
    : "${BUILD_PREFIX:?BUILD_PREFIX is not set; build.sh runs under conda-build}"
    nvcc="${BUILD_PREFIX}/bin/nvcc"
    if [[ -x "${nvcc}" ]]; then
        export CMAKE_CUDA_COMPILER="${nvcc}"
    else
        note "no nvcc at ${nvcc} (compiler('cuda') puts it there); CMake looks for the CUDA compiler itself"
    fi
    case "${target_platform}" in
        linux-64) cuda_target=x86_64-linux ;;
        linux-aarch64) cuda_target=sbsa-linux ;;
        *) fail "no CUDA target directory for ${target_platform}; add one to recipe/build.sh" ;;
    esac
    export CUDAToolkit_ROOT="${PREFIX}"
    export CUDAToolkit_ROOT_DIR="${PREFIX}"
    export CUDA_TOOLKIT_ROOT_DIR="${PREFIX}"
    export CUDAToolkit_BIN_DIR="${BUILD_PREFIX}/bin"
    export CUDAToolkit_TARGET_DIR="${PREFIX}/targets/${cuda_target}"
    cuda_cmake_args=""
    for name in CUDAToolkit_ROOT CUDAToolkit_ROOT_DIR CUDA_TOOLKIT_ROOT_DIR CUDAToolkit_BIN_DIR CUDAToolkit_TARGET_DIR; do
        cuda_cmake_args+=" -D${name}=${!name}"
    done
    CMAKE_ARGS="${CMAKE_ARGS:-}${cuda_cmake_args}"
    export CMAKE_ARGS
    export TORCH_NVCC_FLAGS="-Xfatbin -compress-all"
    if [[ "${cuda_compiler_version}" == 13.* ]]; then
        # CUDA 13 fatbins are compressed for size (pytorch/pytorch#161316)
        TORCH_NVCC_FLAGS+=" -compress-mode=size"
    fi
else
    if [[ -n "${TORCH_CUDA_ARCH_LIST:-}" ]]; then
        note "TORCH_CUDA_ARCH_LIST is ignored for the ${gpu_variant} variant"
        unset TORCH_CUDA_ARCH_LIST
    fi
    export USE_CUDA=0
fi

# 0 when dotted version $1 >= $2 (numerically, part by part: 14.10 > 14.5).
version_at_least() {
    local a="$1." b="$2." x y
    while [[ -n "${a}" || -n "${b}" ]]; do
        x="${a%%.*}"
        y="${b%%.*}"
        a="${a#*.}"
        b="${b#*.}"
        if ((10#${x:-0} > 10#${y:-0})); then return 0; fi
        if ((10#${x:-0} < 10#${y:-0})); then return 1; fi
    done
    return 0
}

# The macOS SDK of MACOSX_SDK_VERSION, else the newest one newer than that: looked for in the folder
# of the compilers' CONDA_BUILD_SYSROOT, then in the Command Line Tools' and Xcode's SDK folders.
find_macos_sdk() {
    local wanted="$1" dir candidate version best="" best_version=""
    local dirs=(/Library/Developer/CommandLineTools/SDKs
                /Applications/Xcode.app/Contents/Developer/Platforms/MacOSX.platform/Developer/SDKs)
    if [[ -n "${CONDA_BUILD_SYSROOT:-}" ]]; then
        dirs=("$(dirname "${CONDA_BUILD_SYSROOT}")" "${dirs[@]}")
    fi
    for dir in "${dirs[@]}"; do
        if [[ -d "${dir}/MacOSX${wanted}.sdk" ]]; then
            echo "${dir}/MacOSX${wanted}.sdk"
            return 0
        fi
    done
    for dir in "${dirs[@]}"; do
        for candidate in "${dir}"/MacOSX[0-9]*.sdk; do
            [[ -d "${candidate}" ]] || continue
            version="${candidate##*/MacOSX}"
            version="${version%.sdk}"
            [[ "${version}" =~ ^[0-9]+(\.[0-9]+)*$ ]] || continue
            if version_at_least "${version}" "${wanted}" &&
                { [[ -z "${best}" ]] || ! version_at_least "${best_version}" "${version}"; }; then
                best="${candidate}"
                best_version="${version}"
            fi
        done
    done
    if [[ -n "${best}" ]]; then echo "${best}"; fi
}

case "${target_platform}" in
    osx-*)
        # distributed needs libuv from host; PyTorch leaves it off on macOS by default
        export USE_DISTRIBUTED=1
        if [[ "${gpu_variant}" == metal ]]; then export USE_MPS=1; else export USE_MPS=0; fi
        if [[ "${target_platform}" == osx-arm64 ]]; then export USE_MKLDNN=0; fi
        # The deployment target is the stdlib's version (c_stdlib_version, 12.0): conda-build's
        # own default for osx-arm64 is older, and CMake takes the target from this variable.
        if [[ -n "${c_stdlib_version}" ]]; then export MACOSX_DEPLOYMENT_TARGET="${c_stdlib_version}"; fi
        sdk_version="${MACOSX_SDK_VERSION:-}"
        if [[ -n "${sdk_version}" ]]; then
            sdk="$(find_macos_sdk "${sdk_version}" || true)"
            if [[ -n "${sdk}" ]]; then
                export CONDA_BUILD_SYSROOT="${sdk}"
                export CMAKE_OSX_SYSROOT="${sdk}"
                note "macOS SDK: ${sdk} (MACOSX_SDK_VERSION=${sdk_version})"
            elif [[ "${gpu_variant}" == metal ]]; then
                fail "the Metal build needs the macOS ${sdk_version} SDK or newer (MACOSX_SDK_VERSION), found none next to CONDA_BUILD_SYSROOT or in the Command Line Tools/Xcode SDK folders; install it"
            else
                note "no macOS ${sdk_version} SDK found; building with the compilers' default SDK"
            fi
        fi
        ;;
    linux-*)
        export USE_MKLDNN=1
        export _GLIBCXX_USE_CXX11_ABI=1
        ;;
    *) ;;
esac

# --- ccache --------------------------------------------------------------------------------------
# USE_CCACHE=0 always: PyTorch's CMake would otherwise pick up any ccache found on PATH. The launchers
# are set only when PYTORCH_CCACHE names a ccache explicitly.
export USE_CCACHE=0
if [[ -n "${PYTORCH_CCACHE:-}" ]]; then
    if [[ "${PYTORCH_CCACHE}" != /* || ! -x "${PYTORCH_CCACHE}" ]]; then
        fail "PYTORCH_CCACHE must be the absolute path of a ccache executable, got '${PYTORCH_CCACHE}'"
    fi
    export CMAKE_C_COMPILER_LAUNCHER="${PYTORCH_CCACHE}"
    export CMAKE_CXX_COMPILER_LAUNCHER="${PYTORCH_CCACHE}"
    export CMAKE_CUDA_COMPILER_LAUNCHER="${PYTORCH_CCACHE}"
    if [[ -n "${CCACHE_CONFIGPATH:-}" ]]; then
        [[ -f "${CCACHE_CONFIGPATH}" ]] || fail "CCACHE_CONFIGPATH '${CCACHE_CONFIGPATH}' is not a file"
        export CCACHE_CONFIGPATH
    fi
    note "ccache: ${PYTORCH_CCACHE} (config: ${CCACHE_CONFIGPATH:-ccache default})"
elif [[ -n "${CCACHE_CONFIGPATH:-}" ]]; then
    note "CCACHE_CONFIGPATH is ignored without PYTORCH_CCACHE"
    unset CCACHE_CONFIGPATH
fi

# --- parallelism ---------------------------------------------------------------------------------
# Default: CPU_COUNT. CUDA: one core fewer, and at most one job per 6 GiB of available memory
# (nvcc needs about that much per job; more jobs get the build OOM-killed). MAX_JOBS (knob) wins.
if [[ -z "${MAX_JOBS:-}" ]]; then
    MAX_JOBS="${CPU_COUNT:-1}"
    if [[ "${is_cuda}" == 1 && "${MAX_JOBS}" =~ ^[1-9][0-9]*$ ]]; then
        MAX_JOBS=$((MAX_JOBS > 1 ? MAX_JOBS - 1 : 1))
        mem_kib="$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null || true)"
        if [[ "${mem_kib}" =~ ^[0-9]+$ ]]; then
            by_memory=$((mem_kib / (6 * 1024 * 1024)))
            ((by_memory >= 1)) || by_memory=1
            ((by_memory >= MAX_JOBS)) || MAX_JOBS="${by_memory}"
        fi
    fi
fi
if ! [[ "${MAX_JOBS}" =~ ^[1-9][0-9]*$ ]]; then
    fail "MAX_JOBS must be a positive integer, got '${MAX_JOBS}'; unset it to use CPU_COUNT"
fi
export MAX_JOBS

# --- conda's default compiler flags --------------------------------------------------------------
# -std=c++NN: PyTorch's CMake sets the language standard itself. -Wl,--as-needed drops the MKL
# libraries that are only loaded indirectly. -Wl,-z,now resolves every symbol at load time, so
# `import torch` would fail on a machine without the CUDA driver: lazy binding instead.
# Plain strings, no arrays: macOS runs this under bash 3.2, where an empty array is unbound (set -u).
edit_flags() {
    local word part result="" linker prev
    local IFS=$' \t\n'
    set -f
    # shellcheck disable=SC2086  # word splitting is the point: flags are space separated
    for word in $1; do
        case "${word}" in
            -std=c++[0-9][0-9] | -std=gnu++[0-9][0-9]) continue ;;
            -Wl,*)
                # a comma list of linker options: -Wl,-O2,--as-needed,-z,now
                linker=""
                prev=""
                IFS=,
                for part in ${word#-Wl,}; do
                    if [[ "${part}" == --as-needed ]]; then continue; fi
                    if [[ "${part}" == now && "${prev}" == -z ]]; then part=lazy; fi
                    linker="${linker:+${linker},}${part}"
                    prev="${part}"
                done
                IFS=$' \t\n'
                if [[ -z "${linker}" ]]; then continue; fi
                word="-Wl,${linker}"
                ;;
        esac
        result="${result:+${result} }${word}"
    done
    set +f
    printf '%s' "${result}"
}
CFLAGS="$(edit_flags "${CFLAGS:-}")"
CXXFLAGS="$(edit_flags "${CXXFLAGS:-}")"
LDFLAGS="$(edit_flags "${LDFLAGS:-}")"
export CFLAGS CXXFLAGS LDFLAGS

# --- NNPACK --------------------------------------------------------------------------------------
# NNPACK's configure fetches the Python package six from the network unless told where it is; six
# is a host requirement. Its download project is replaced by one that fetches nothing.
six_download="${SRC_DIR}/third_party/NNPACK/cmake/DownloadSix.cmake"
if [[ -f "${six_download}" ]]; then
    printf '%s\n' "# recipe/build.sh: six comes from the host environment, nothing is downloaded" \
        "cmake_minimum_required(VERSION 3.5)" "project(six-download NONE)" >"${six_download}"
else
    note "third_party/NNPACK/cmake/DownloadSix.cmake not found; NNPACK's six download is unchanged"
fi

# --- everything else -----------------------------------------------------------------------------
# On macOS, setup.py would otherwise copy its own libomp next to conda's llvm-openmp (two OpenMP
# runtimes in one process); PACKAGE_TYPE=conda tells PyTorch's build it is a conda package.
export PACKAGE_TYPE=conda
export CMAKE_BUILD_TYPE=Release
export CMAKE_GENERATOR=Ninja
export CMAKE_PREFIX_PATH="${PREFIX}"
export BUILD_TEST=0
export USE_ITT=0
export USE_NUMA=0
export PYTORCH_BUILD_VERSION="${PKG_VERSION:-}"
# Never the package build number: PyTorch appends .post<N> to the version for N > 1
# (tools/generate_torch_version.py, get_torch_version), so a GPU build (200+) would report
# 2.13.0.post200 in torch.__version__ and in its pip metadata.
export PYTORCH_BUILD_NUMBER=0

note "variant: gpu_variant=${gpu_variant} cuda_compiler_version=${cuda_compiler_version} blas_impl=${blas_impl}"
note "USE_CUDA=${USE_CUDA} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-} BLAS=${BLAS} MAX_JOBS=${MAX_JOBS}"

cd "${SRC_DIR}"
"${PYTHON}" -m pip install . --no-deps --no-build-isolation -vv
