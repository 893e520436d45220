"""The simulated world: people and their motion models, trees, wind, the multicopter with ArduCopter GUIDED
semantics (the in-process autopilot), and the named scenarios built from them."""
