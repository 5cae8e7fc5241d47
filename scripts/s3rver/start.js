// The package has no bin/: start its CLI directly. Same flags as s3rver:
//   node --openssl-legacy-provider start.js -s -d DIR -a 127.0.0.1 -p PORT --configure-bucket B
require('@20minutes/s3rver/lib/cli').parseAsync();
