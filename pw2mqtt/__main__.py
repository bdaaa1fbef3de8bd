from pw2mqtt.cli import main

raise SystemExit(main())
