"""The test kit: what the tests and the benchmarks (bench/) share.

- the real processes: the simulator and redis-server (`servers`), the Slack stand-in and the
  bot (`slack`), and the driver that talks to the bot as Slack does (`slack.Slack`, over HTTP;
  `slack.SocketSlack`, over Socket Mode);
- factories for the data they run on: messages in the simulator, detections, hostile text,
  rendered models (`factories`); API clients (`clients`); Redis for service tests (`store`);
  approved requests and what their execution sent (`approvals`);
- multi-step end-to-end flows and waits: cards, approvals, alert roots (`flows`);
- checks: the OpenAPI contract (`openapi_check`, `contract`) and the bots' logs (`logcheck`);
- `vendor/`: reference files the tests check against, with their licences.

Test modules import from here, never from one another; bench/ imports nothing else of tests/.
"""
