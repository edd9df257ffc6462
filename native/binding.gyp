{
  'targets': [
    {
      'target_name': 'smartscope',
      'sources': [
        'src/addon.cc',
        'src/args.cc',
        'src/pixel-binding.cc',
        'src/preprocess.cc',
        'src/filters.cc',
        'src/morphology.cc',
        'src/stats.cc',
        'src/resample.cc',
        'src/focus.cc',
        'src/components.cc',
        'src/sd-notify.cc',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      'cflags': ['-O3', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-O3'],
      'libraries': ['-lpthread'],
    },
  ],
}
