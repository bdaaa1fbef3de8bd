from pw2mqtt.simulator.cli import main

raise SystemExit(main())
