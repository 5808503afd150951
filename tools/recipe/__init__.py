"""The recipe (recipe/meta.yaml, build.sh, bld.bat) and its variants, as the task suite sees them.

Modules: ``knobs`` (the development knobs, the dev mark, test levels), ``variants`` (our
conda_build_config.yaml and conda-forge's: selectors, zip_keys, overrides, names), ``rendering``
(the recipe rendered per variant, as conda-build would), ``checks`` (what every rendered variant
must contain, one check per recipe section), ``uses`` (variables the recipe reads that nothing
sets), ``sections`` (the test section kept apart, for fingerprints), ``matrix_check``
(``python -m tools.recipe``: all of it over every variant).

The names below are the package's interface, defined in those modules.
"""

from tools.recipe.checks import (
    SECTION_CHECKS,
    Expected,
    Sections,
    check_blas_requirements,
    check_build_requirements,
    check_build_script,
    check_cuda_requirements,
    check_metapackage,
    check_outputs,
    check_pytorch_build,
    check_rendered,
    check_run_requirements,
    check_script_env,
    check_source,
    check_test_assertions,
    check_test_imports,
    check_test_requirements,
    check_test_suite,
    dev_mark_problems,
)
from tools.recipe.knobs import (
    DEV_MARK,
    KNOBS,
    PKG_HASH_PLACEHOLDER,
    RELEASE_TEST_LEVEL,
    SELECTION_RUNNER,
    TEST_LEVELS,
    dev_knobs,
)
from tools.recipe.matrix_check import main, render_check
from tools.recipe.rendering import (
    Output,
    Rendered,
    package_files,
    recipe_version,
    render,
    script_build_number,
    torch_version,
)
from tools.recipe.uses import (
    CONDA_BUILD_DEFAULTS,
    CONDA_BUILD_PROVIDES,
    script_inputs,
    unset_variables,
    variable_uses,
)

__all__ = [
    "CONDA_BUILD_DEFAULTS",
    "CONDA_BUILD_PROVIDES",
    "DEV_MARK",
    "Expected",
    "KNOBS",
    "Output",
    "PKG_HASH_PLACEHOLDER",
    "RELEASE_TEST_LEVEL",
    "Rendered",
    "SECTION_CHECKS",
    "SELECTION_RUNNER",
    "Sections",
    "TEST_LEVELS",
    "check_blas_requirements",
    "check_build_requirements",
    "check_build_script",
    "check_cuda_requirements",
    "check_metapackage",
    "check_outputs",
    "check_pytorch_build",
    "check_rendered",
    "check_run_requirements",
    "check_script_env",
    "check_source",
    "check_test_assertions",
    "check_test_imports",
    "check_test_requirements",
    "check_test_suite",
    "dev_knobs",
    "dev_mark_problems",
    "main",
    "package_files",
    "recipe_version",
    "render",
    "render_check",
    "script_build_number",
    "script_inputs",
    "torch_version",
    "unset_variables",
    "variable_uses",
]
