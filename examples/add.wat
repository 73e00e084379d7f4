;; A typed export: `faas invoke <id> 2 3` returns 5.
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))
