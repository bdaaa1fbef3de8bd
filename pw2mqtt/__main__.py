from pw2mqtt.app.cli import main

raise SystemExit(main())
