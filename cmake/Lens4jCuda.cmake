# CUDA kernels: compiled whenever nvcc is found. sm_80/sm_90 SASS plus compute_90 PTX; cudart linked
# statically; cuBLAS is dlopen'ed at run time, so this builds on machines whose toolkit lacks it.
# set before enable_language, which would otherwise pick nvcc's default (sm_75)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
add_library(lens4j_cuda SHARED ${CMAKE_CURRENT_SOURCE_DIR}/cuda/runtime.cu)
target_include_directories(lens4j_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
set_target_properties(lens4j_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static BUILD_RPATH "\$ORIGIN")
target_link_libraries(lens4j_cuda PRIVATE ${CMAKE_DL_LIBS})
message(STATUS "lens4j: CUDA kernels enabled (${CMAKE_CUDA_COMPILER}, archs ${CMAKE_CUDA_ARCHITECTURES})")

# self-test executable, run by the JUnit CudaSelfTest (skips without a GPU)
add_executable(lens4j_cuda_selftest ${CMAKE_CURRENT_SOURCE_DIR}/cuda/selftest.cu)
target_link_libraries(lens4j_cuda_selftest PRIVATE lens4j_cuda)
set_target_properties(lens4j_cuda_selftest PROPERTIES CUDA_RUNTIME_LIBRARY Static BUILD_RPATH "\$ORIGIN")
