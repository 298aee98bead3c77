# tests/node-plugin/backends.cmake: tests of the attach backends, GPU enumeration and the
# local GPU slice (included from tests/node-plugin/CMakeLists.txt).
netdra_unit_test(test_backend_camera SOURCES test_backend_camera.c LIBS netdra_backends)
netdra_unit_test(test_backend_cxl_memory SOURCES test_backend_cxl_memory.c backend_test_peers.c
                 backend_test_no_k8s.c LIBS netdra_backends)
netdra_unit_test(test_backend_accelerator SOURCES test_backend_accelerator.c
                 backend_test_peers.c backend_test_no_k8s.c LIBS netdra_backends)
netdra_unit_test(test_backend_gpu SOURCES test_backend_gpu.c backend_test_no_k8s.c
                 LIBS netdra_backends)

# test equipment for the script tests
add_executable(gpu_slice_tool gpu_slice_tool.c)
target_link_libraries(gpu_slice_tool PRIVATE netdra_backends)
netdra_script_test(it_backend_gpu_slice it_backend_gpu_slice.sh)
# needs the real REST client (lib/k8s_client.c, branch k8s-client)
if(EXISTS ${PROJECT_SOURCE_DIR}/lib/k8s_client.c)
  add_executable(netdra_backend_tool backend_tool.c)
  target_link_libraries(netdra_backend_tool PRIVATE netdra_backends)
  netdra_script_test(it_backend_camera_secret it_backend_camera_secret.sh)
endif()
