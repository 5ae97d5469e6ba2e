{
  "targets": [{
    "target_name": "vigil_torch",
    "sources": ["native/addon.cc", "native/tensor.cc", "native/ops.cc", "native/allocator.cc", "native/autograd.cc", "native/optim.cc", "native/winograd.cc"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
                "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "<!@(node scripts/libtorch-config.mjs defines)"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
    "cflags_cc": ["-fexceptions", "-frtti", "-O2", "-std=c++17", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node scripts/libtorch-config.mjs include)"],
    "libraries": ["<!@(node scripts/libtorch-config.mjs libs)"],
    "ldflags": ["<!@(node scripts/libtorch-config.mjs ldflags)"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "GCC_ENABLE_CPP_RTTI": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
  }]
}
