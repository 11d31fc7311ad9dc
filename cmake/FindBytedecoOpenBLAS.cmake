# OpenBLAS from the org.bytedeco:openblas jar, unpacked by Maven into OPENBLAS_ROOT.
# The jar ships only libopenblas.so.0 (no unversioned .so) and a broken OpenBLASConfig.cmake,
# so we import the library file directly.
if(NOT OPENBLAS_ROOT)
  message(FATAL_ERROR "OPENBLAS_ROOT is not set: pass -DOPENBLAS_ROOT=<unpacked org/bytedeco/openblas/<platform>>")
endif()
find_path(BYTEDECO_OPENBLAS_INCLUDE cblas.h PATHS "${OPENBLAS_ROOT}/include" "${OPENBLAS_ROOT}/include/openblas" NO_DEFAULT_PATH)
find_file(BYTEDECO_OPENBLAS_LIB NAMES libopenblas.so.0 libopenblas.so libopenblas.dylib PATHS "${OPENBLAS_ROOT}" "${OPENBLAS_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT BYTEDECO_OPENBLAS_INCLUDE OR NOT BYTEDECO_OPENBLAS_LIB)
  message(FATAL_ERROR "bytedeco OpenBLAS not found under ${OPENBLAS_ROOT} (include: ${BYTEDECO_OPENBLAS_INCLUDE}, lib: ${BYTEDECO_OPENBLAS_LIB})")
endif()
add_library(bytedeco_openblas SHARED IMPORTED)
set_target_properties(bytedeco_openblas PROPERTIES
  IMPORTED_LOCATION "${BYTEDECO_OPENBLAS_LIB}"
  IMPORTED_NO_SONAME OFF
  INTERFACE_INCLUDE_DIRECTORIES "${BYTEDECO_OPENBLAS_INCLUDE}")
message(STATUS "lens4j: bytedeco OpenBLAS ${BYTEDECO_OPENBLAS_LIB}")
# The JavaCPP-generated JNI library inherits "-lopenblas" from the openblas preset; give the linker an
# unversioned name next to our library that resolves to the same bytedeco file.
file(CREATE_LINK "${BYTEDECO_OPENBLAS_LIB}" "${CMAKE_BINARY_DIR}/libopenblas.so" SYMBOLIC)
