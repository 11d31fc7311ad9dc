# lens4j_cuda_emu: native/cuda/*.cu compiled as C++ against the CUDA emulation (native/cuda/emu), so the kernels'
# code runs without a GPU. Each .cu is included from a generated .cpp (a source file cannot be CUDA in one target
# and C++ in another). cuBLAS is emulated with OpenBLAS (column-major, as cuBLAS).
set(L4JC_EMU_WRAPPERS "")
foreach(cu ${L4JC_SOURCES})
  get_filename_component(stem ${cu} NAME_WE)
  set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/cuda_emu/${stem}.cpp)
  file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${cu}\"\n")
  list(APPEND L4JC_EMU_WRAPPERS ${wrapper})
endforeach()
add_library(lens4j_cuda_emu SHARED ${L4JC_EMU_WRAPPERS} ${CMAKE_CURRENT_SOURCE_DIR}/cuda/emu/emu.cpp)
target_include_directories(lens4j_cuda_emu PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cuda)
target_compile_definitions(lens4j_cuda_emu PRIVATE L4J_CUDA_EMU=1)
# no -ffast-math: the emulated kernels should round as the GPU's IEEE float does
target_compile_options(lens4j_cuda_emu PRIVATE -O2 -fno-math-errno -Wall -Wno-unused-parameter -Wno-unused-function)
target_link_libraries(lens4j_cuda_emu PRIVATE bytedeco_openblas ${CMAKE_DL_LIBS})
set_target_properties(lens4j_cuda_emu PROPERTIES BUILD_RPATH "\$ORIGIN" INSTALL_RPATH "\$ORIGIN")

# the strict emulation's own checks (broken kernels must fail their launch); emu.cpp linked in directly
add_executable(lens4j_cuda_emu_selftest ${CMAKE_CURRENT_SOURCE_DIR}/cuda/emu/selftest.cpp ${CMAKE_CURRENT_SOURCE_DIR}/cuda/emu/emu.cpp)
target_include_directories(lens4j_cuda_emu_selftest PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cuda/emu)
target_compile_definitions(lens4j_cuda_emu_selftest PRIVATE L4J_CUDA_EMU=1)
target_compile_options(lens4j_cuda_emu_selftest PRIVATE -O2 -Wall -Wno-unused-parameter)
add_test(NAME cuda_emulation_selftest COMMAND lens4j_cuda_emu_selftest)

# An AddressSanitizer build of the emulated kernels and their checks (scripts/cuda-emu-asan.sh): device buffers are
# allocated at their exact size, so a kernel reading or writing past one is reported with the kernel's frame.
option(LENS4J_EMU_ASAN "build lens4j_cuda_emu and its checks with AddressSanitizer" OFF)
if(LENS4J_EMU_ASAN)
  foreach(t lens4j_cuda_emu lens4j_cuda_emu_selftest)
    target_compile_options(${t} PRIVATE -fsanitize=address -fno-omit-frame-pointer -g)
    target_link_options(${t} PRIVATE -fsanitize=address)
  endforeach()
endif()

# A kernel-check runner (native/cuda/check: every l4jc_* kernel against its l4j_* CPU twin) linked to one CUDA library.
function(l4jc_add_check exe cuda_lib)
  add_executable(${exe} ${L4JC_CHECK_SOURCES})
  target_include_directories(${exe} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/cuda/check)
  target_compile_options(${exe} PRIVATE -O2 -Wall -Wno-unused-parameter)
  target_link_libraries(${exe} PRIVATE ${cuda_lib} lens4j_cpu)
  set_target_properties(${exe} PROPERTIES BUILD_RPATH "\$ORIGIN")
  add_test(NAME ${exe} COMMAND ${exe})
endfunction()

# A CUDA library travels in the jar beside lens4j_cpu (dev/lens4j/nativ/<platform>/), where CudaRuntime finds it.
function(l4jc_copy_to_jar lib)
  if(LENS4J_CUDA_LIB_DIR)
    add_custom_command(TARGET ${lib} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E make_directory ${LENS4J_CUDA_LIB_DIR}
      COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:${lib}> ${LENS4J_CUDA_LIB_DIR}/)
  endif()
endfunction()

if(L4JC_CHECK_SOURCES)
  l4jc_add_check(lens4j_cuda_emu_check lens4j_cuda_emu)
  if(LENS4J_EMU_ASAN)
    target_compile_options(lens4j_cuda_emu_check PRIVATE -fsanitize=address -fno-omit-frame-pointer -g)
    target_link_options(lens4j_cuda_emu_check PRIVATE -fsanitize=address)
  endif()
endif()
l4jc_copy_to_jar(lens4j_cuda_emu)
