# find_package(TinymlPio <version>): the package's version is the Python package's (tinyml_pio/__init__.py),
# so the CMake functions, the converter they run and the kernels always come from one release.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../__init__.py" _tinyml_version_line REGEX "^__version__ *=")
string(REGEX REPLACE "^__version__ *= *[\"']([^\"']+)[\"'].*" "\\1" PACKAGE_VERSION "${_tinyml_version_line}")
if(PACKAGE_FIND_VERSION AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION AND PACKAGE_VERSION VERSION_EQUAL PACKAGE_FIND_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
