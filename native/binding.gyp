{
  # The GenICam backend needs Aravis 0.8 (libaravis-dev); without it the addon builds with that backend off and
  # reports `aravis: false` in its features.
  'variables': {
    'have_aravis%': '<!(sh -c "pkg-config --exists aravis-0.8 && echo 1 || echo 0")',
  },
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
        'src/segment.cc',
        'src/stats.cc',
        'src/resample.cc',
        'src/focus.cc',
        'src/components.cc',
        'src/sd-notify.cc',
        'src/frame-pool.cc',
        'src/capture.cc',
        'src/push-device.cc',
        'src/v4l2-format.cc',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      'cflags': ['-O3', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-O3'],
      'conditions': [
        ['OS=="linux"', {
          'sources': ['src/v4l2-device.cc'],
          'defines': ['SMARTSCOPE_HAVE_V4L2=1'],
          'libraries': ['-lpthread'],
        }],
        ['have_aravis==1', {
          'sources': ['src/aravis-device.cc'],
          'defines': ['SMARTSCOPE_HAVE_ARAVIS=1'],
          'cflags_cc': ['<!@(pkg-config --cflags aravis-0.8)'],
          'libraries': ['<!@(pkg-config --libs aravis-0.8)'],
        }],
      ],
    },
  ],
}
