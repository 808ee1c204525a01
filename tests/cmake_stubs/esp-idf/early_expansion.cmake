# ESP-IDF's requirements pass: each component's CMakeLists.txt runs in script mode (cmake -P) with
# CMAKE_BUILD_EARLY_EXPANSION set and idf_component_register only recording the requirements.
set(CMAKE_BUILD_EARLY_EXPANSION 1)
function(idf_component_register)
  message(STATUS "idf_component_register(${ARGN})")
endfunction()
include("${TINYML_PIO_COMPONENT}/CMakeLists.txt")
