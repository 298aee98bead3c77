# backends.cmake: the attach backends (camera, cxl-memory, accelerator, gpu), local GPU
# enumeration and the node-local GPU ResourceSlice builder, as static library netdra_backends.
# Included from node-plugin/CMakeLists.txt after netdra_node_plugin_core.
add_library(netdra_backends STATIC
            ${CMAKE_CURRENT_LIST_DIR}/backend_registry.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_edits.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_camera.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_http.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_cxl_memory.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_accelerator.c
            ${CMAKE_CURRENT_LIST_DIR}/backend_gpu.c
            ${CMAKE_CURRENT_LIST_DIR}/file_memo.c
            ${CMAKE_CURRENT_LIST_DIR}/gpu_enumerate.c
            ${CMAKE_CURRENT_LIST_DIR}/gpu_slice.c)
target_include_directories(netdra_backends PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(netdra_backends PUBLIC netdra_node_plugin_core netdra PkgConfig::JANSSON
                      PkgConfig::CURL PkgConfig::OPENSSL)
