# Stands in for a nixpkgs profile in tests/nix/eval-modules.nix.
{ }
