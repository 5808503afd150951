@echo off
rem Build of the pytorch package on Windows, run by conda-build in the work dir.
rem Mirrors recipe/build.sh: same variant keys, same knobs (TORCH_CUDA_ARCH_LIST, PYTORCH_CCACHE,
rem CCACHE_CONFIGPATH, MAX_JOBS; table in CONTRIBUTING.md). Unlike build.sh, bld.bat inherits the
rem caller's whole environment, so the knobs are read the same way but nothing else is filtered.
rem Never tried on Windows (README.md, "Platforms").
setlocal EnableExtensions EnableDelayedExpansion

if not defined gpu_variant set "gpu_variant=cpu"
if not defined cuda_compiler_version set "cuda_compiler_version=None"

rem PyTorch's setup.py imports the `tools` package of its own source tree; never shadow it.
if defined PYTHONPATH (
    echo bld.bat: PYTHONPATH is ignored for the PyTorch build
    set "PYTHONPATH="
)

rem --- BLAS ----------------------------------------------------------------------------------
if "%blas_impl%"=="mkl" (
    set "BLAS=MKL"
) else if "%blas_impl%"=="openblas" (
    set "BLAS=OpenBLAS"
    set "OpenBLAS_HOME=%LIBRARY_PREFIX%"
) else (
    echo bld.bat: error: unknown blas_impl '%blas_impl%' ^(known: mkl, openblas^); fix the variant config 1>&2
    exit /b 1
)

rem --- GPU flavour ---------------------------------------------------------------------------
set "is_cuda=0"
if "%gpu_variant:~0,5%"=="cuda-" set "is_cuda=1"
if "%is_cuda%"=="0" if not "%gpu_variant%"=="cpu" (
    echo bld.bat: error: unknown gpu_variant '%gpu_variant%' ^(known on Windows: cpu, cuda-X.Y^); fix the variant config 1>&2
    exit /b 1
)
if "%is_cuda%"=="1" if not "%gpu_variant:~5%"=="%cuda_compiler_version%" (
    echo bld.bat: error: gpu_variant '%gpu_variant%' does not match cuda_compiler_version '%cuda_compiler_version%' 1>&2
    exit /b 1
)
if "%is_cuda%"=="0" goto cpu_build

rem Release lists: the ones of recipe/build.sh (one source: conda-forge/pytorch-cpu-feedstock).
set "release_arch_list="
if "%cuda_compiler_version%"=="12.8" set "release_arch_list=5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX"
if "%cuda_compiler_version%"=="12.9" set "release_arch_list=5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX"
if "%cuda_compiler_version%"=="13.0" set "release_arch_list=7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX"
if not defined release_arch_list (
    echo bld.bat: error: no release CUDA architecture list for CUDA %cuda_compiler_version% ^(known: 12.8, 12.9, 13.0^); add one to recipe/bld.bat 1>&2
    exit /b 1
)
if defined TORCH_CUDA_ARCH_LIST (
    echo bld.bat: TORCH_CUDA_ARCH_LIST=!TORCH_CUDA_ARCH_LIST! from the environment ^(release list: !release_arch_list!^)
) else (
    set "TORCH_CUDA_ARCH_LIST=!release_arch_list!"
)
set "USE_CUDA=1"
set "USE_CUDNN=1"
set "USE_STATIC_CUDNN=0"
set "USE_MKLDNN=1"
set "CUDA_VERSION=%cuda_compiler_version%"
rem nvcc (compiler('cuda')) is in the build prefix, the CUDA libraries in the host prefix.
set "_nvcc=%BUILD_PREFIX%\Library\bin\nvcc.exe"
if exist "!_nvcc!" goto have_nvcc
echo bld.bat: no nvcc at !_nvcc! ^(compiler^('cuda'^) puts it there^); CMake looks for the CUDA compiler itself
goto after_nvcc
:have_nvcc
set "CMAKE_CUDA_COMPILER=!_nvcc!"
:after_nvcc
set "CUDAToolkit_ROOT=%LIBRARY_PREFIX%"
set "CUDAToolkit_ROOT_DIR=%LIBRARY_PREFIX%"
set "CUDA_TOOLKIT_ROOT_DIR=%LIBRARY_PREFIX%"
set "CUDAToolkit_BIN_DIR=%BUILD_PREFIX%\Library\bin"
set "CMAKE_ARGS=%CMAKE_ARGS% -DCUDAToolkit_ROOT=%LIBRARY_PREFIX% -DCUDAToolkit_ROOT_DIR=%LIBRARY_PREFIX% -DCUDA_TOOLKIT_ROOT_DIR=%LIBRARY_PREFIX% -DCUDAToolkit_BIN_DIR=%BUILD_PREFIX%\Library\bin"
set "TORCH_NVCC_FLAGS=-Xfatbin -compress-all"
if "%cuda_compiler_version:~0,3%"=="13." set "TORCH_NVCC_FLAGS=!TORCH_NVCC_FLAGS! -compress-mode=size"
goto after_gpu

:cpu_build
if defined TORCH_CUDA_ARCH_LIST (
    echo bld.bat: TORCH_CUDA_ARCH_LIST is ignored for the %gpu_variant% variant
    set "TORCH_CUDA_ARCH_LIST="
)
set "USE_CUDA=0"
set "USE_MKLDNN=1"

:after_gpu
rem --- parallelism ---------------------------------------------------------------------------
rem Default CPU_COUNT; CUDA builds one job fewer (nvcc jobs need several GiB each). MAX_JOBS wins.
if defined MAX_JOBS goto check_max_jobs
set "MAX_JOBS=%CPU_COUNT%"
if not defined MAX_JOBS set "MAX_JOBS=1"
if "%is_cuda%"=="1" if !MAX_JOBS! GTR 1 set /a "MAX_JOBS=MAX_JOBS-1"
:check_max_jobs
set /a "_jobs=MAX_JOBS" 2>nul
if not "!_jobs!"=="!MAX_JOBS!" goto bad_max_jobs
if !_jobs! LSS 1 goto bad_max_jobs

rem --- ccache --------------------------------------------------------------------------------
set "USE_CCACHE=0"
if not defined PYTORCH_CCACHE goto no_ccache
if not exist "%PYTORCH_CCACHE%" (
    echo bld.bat: error: PYTORCH_CCACHE must be the path of a ccache executable, got '%PYTORCH_CCACHE%' 1>&2
    exit /b 1
)
set "CMAKE_C_COMPILER_LAUNCHER=%PYTORCH_CCACHE%"
set "CMAKE_CXX_COMPILER_LAUNCHER=%PYTORCH_CCACHE%"
set "CMAKE_CUDA_COMPILER_LAUNCHER=%PYTORCH_CCACHE%"
if defined CCACHE_CONFIGPATH if not exist "%CCACHE_CONFIGPATH%" (
    echo bld.bat: error: CCACHE_CONFIGPATH '%CCACHE_CONFIGPATH%' is not a file 1>&2
    exit /b 1
)
echo bld.bat: ccache: %PYTORCH_CCACHE%
goto after_ccache
:no_ccache
if defined CCACHE_CONFIGPATH (
    echo bld.bat: CCACHE_CONFIGPATH is ignored without PYTORCH_CCACHE
    set "CCACHE_CONFIGPATH="
)
:after_ccache

rem --- everything else -----------------------------------------------------------------------
rem PyTorch's build: a conda package (no runtime libraries bundled by setup.py).
set "PACKAGE_TYPE=conda"
set "CMAKE_BUILD_TYPE=Release"
rem Ninja: the Visual Studio generator's platform and toolset settings that conda's vs activation
rem sets must be empty, or CMake refuses the generator; distutils uses the activated compiler.
set "CMAKE_GENERATOR=Ninja"
set "CMAKE_GENERATOR_PLATFORM="
set "CMAKE_GENERATOR_TOOLSET="
set "DISTUTILS_USE_SDK=1"
set "CMAKE_PREFIX_PATH=%LIBRARY_PREFIX%"
set "BUILD_TEST=0"
set "USE_DISTRIBUTED=1"
set "USE_ITT=0"
set "USE_NUMA=0"
set "PYTORCH_BUILD_VERSION=%PKG_VERSION%"
rem Never the package build number: PyTorch appends .post<N> for N > 1 (build.sh says more).
set "PYTORCH_BUILD_NUMBER=0"

echo bld.bat: USE_CUDA=%USE_CUDA% TORCH_CUDA_ARCH_LIST=%TORCH_CUDA_ARCH_LIST% BLAS=%BLAS% MAX_JOBS=%MAX_JOBS%
cd /d "%SRC_DIR%"
"%PYTHON%" -m pip install . --no-deps --no-build-isolation -vv
if errorlevel 1 exit /b 1
exit /b 0

:bad_max_jobs
echo bld.bat: error: MAX_JOBS must be a positive integer, got '%MAX_JOBS%'; unset it to use CPU_COUNT 1>&2
exit /b 1
