# CUDA kernels: compiled whenever nvcc is found. sm_80/sm_90 SASS plus compute_90 PTX; cudart linked
# statically; cuBLAS is dlopen'ed at run time, so this builds on machines whose toolkit lacks it.
# set before enable_language, which would otherwise pick nvcc's default (sm_75)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
add_library(lens4j_cuda SHARED ${L4JC_SOURCES})
target_include_directories(lens4j_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cuda)
target_compile_options(lens4j_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
set_target_properties(lens4j_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static BUILD_RPATH "\$ORIGIN")
target_link_libraries(lens4j_cuda PRIVATE ${CMAKE_DL_LIBS})
message(STATUS "lens4j: CUDA kernels enabled (${CMAKE_CUDA_COMPILER}, archs ${CMAKE_CUDA_ARCHITECTURES})")

# the kernel checks against the CPU kernels, on the GPU (scripts/gpu-check.sh; CudaKernelCheckTest skips without one)
if(L4JC_CHECK_SOURCES)
  add_executable(lens4j_cuda_check ${L4JC_CHECK_SOURCES})
  target_include_directories(lens4j_cuda_check PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/cuda/check)
  target_compile_options(lens4j_cuda_check PRIVATE -O2)
  target_link_libraries(lens4j_cuda_check PRIVATE lens4j_cuda lens4j_cpu)
  set_target_properties(lens4j_cuda_check PROPERTIES BUILD_RPATH "\$ORIGIN")
  add_test(NAME cuda_kernels_gpu COMMAND lens4j_cuda_check)
endif()

if(LENS4J_CUDA_LIB_DIR)
  add_custom_command(TARGET lens4j_cuda POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory ${LENS4J_CUDA_LIB_DIR}
    COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:lens4j_cuda> ${LENS4J_CUDA_LIB_DIR}/)
endif()
