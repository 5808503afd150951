#!/usr/bin/env bash
# Build of the pytorch package on Linux and macOS, run by conda-build in the work dir.
#
# Inputs:
# - variant keys exported by conda-build: blas_impl, gpu_variant, cuda_compiler_version,
#   target_platform (conda_build_config.yaml);
# - conda-build's own variables: SRC_DIR, PREFIX, PYTHON, CPU_COUNT, PKG_VERSION, PKG_BUILDNUM;
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

# PyTorch's setup.py imports the top-level `tools` package of its own source tree; a `tools`
# directory from anywhere else on PYTHONPATH (this repo has one) would shadow it.
if [[ -n "${PYTHONPATH:-}" ]]; then
    note "PYTHONPATH is ignored for the PyTorch build (was: ${PYTHONPATH})"
    unset PYTHONPATH
fi

# --- parallelism ---------------------------------------------------------------------------------
MAX_JOBS="${MAX_JOBS:-${CPU_COUNT:-1}}"
if ! [[ "${MAX_JOBS}" =~ ^[1-9][0-9]*$ ]]; then
    fail "MAX_JOBS must be a positive integer, got '${MAX_JOBS}'; unset it to use CPU_COUNT"
fi
export MAX_JOBS

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
    # Release lists of compute capabilities per CUDA version (the ones PyTorch and conda-forge ship).
    case "${cuda_compiler_version}" in
        12.6) release_arch_list="5.0;6.0;7.0;7.5;8.0;8.6;9.0+PTX" ;;
        12.8 | 12.9) release_arch_list="5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX" ;;
        13.0) release_arch_list="7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX" ;;
        *) fail "no release CUDA architecture list for CUDA ${cuda_compiler_version} (known: 12.6, 12.8, 12.9, 13.0); add one to recipe/build.sh" ;;
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
    export CUDAToolkit_ROOT="${PREFIX}"
    export CUDA_TOOLKIT_ROOT_DIR="${PREFIX}"
    export TORCH_NVCC_FLAGS="-Xfatbin -compress-all"
else
    if [[ -n "${TORCH_CUDA_ARCH_LIST:-}" ]]; then
        note "TORCH_CUDA_ARCH_LIST is ignored for the ${gpu_variant} variant"
        unset TORCH_CUDA_ARCH_LIST
    fi
    export USE_CUDA=0
fi

case "${target_platform}" in
    osx-*)
        # distributed needs libuv from host; PyTorch leaves it off on macOS by default
        export USE_DISTRIBUTED=1
        if [[ "${gpu_variant}" == metal ]]; then export USE_MPS=1; else export USE_MPS=0; fi
        if [[ "${target_platform}" == osx-arm64 ]]; then export USE_MKLDNN=0; fi
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

# --- everything else -----------------------------------------------------------------------------
export CMAKE_BUILD_TYPE=Release
export CMAKE_GENERATOR=Ninja
export CMAKE_PREFIX_PATH="${PREFIX}"
export BUILD_TEST=0
export USE_ITT=0
export USE_NUMA=0
export PYTORCH_BUILD_VERSION="${PKG_VERSION:-}"
export PYTORCH_BUILD_NUMBER="${PKG_BUILDNUM:-0}"

note "variant: gpu_variant=${gpu_variant} cuda_compiler_version=${cuda_compiler_version} blas_impl=${blas_impl}"
note "USE_CUDA=${USE_CUDA} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-} BLAS=${BLAS} MAX_JOBS=${MAX_JOBS}"

cd "${SRC_DIR}"
"${PYTHON}" -m pip install . --no-deps --no-build-isolation -vv
