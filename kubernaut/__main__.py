from kubernaut.cli import main

raise SystemExit(main())
