# tests/node-plugin/backends.cmake: tests of the attach backends, GPU enumeration and the
# local GPU slice (included from tests/node-plugin/CMakeLists.txt).
netdra_unit_test(test_backend_camera SOURCES test_backend_camera.c LIBS netdra_backends)
netdra_unit_test(test_backend_cxl_memory SOURCES test_backend_cxl_memory.c backend_test_peers.c
                 backend_test_no_k8s.c LIBS netdra_backends)
netdra_unit_test(test_backend_accelerator SOURCES test_backend_accelerator.c
                 backend_test_peers.c backend_test_no_k8s.c LIBS netdra_backends)
