;; {{name}}: a faas function in WebAssembly text. A typed export: the
;; payload is a JSON array with one number per parameter, the result the
;; return value.
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add))
