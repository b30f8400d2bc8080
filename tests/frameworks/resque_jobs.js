// resque_jobs.js - fills a Redis db in Resque's layout, with resque-
// scheduler's delayed jobs, through node-resque (Resque itself is not
// packaged for Debian; node-resque writes the same keys: queues,
// queue:NAME, failed, workers, delayed:<unix seconds> lists indexed by
// the delayed_queue_schedule zset), and prints node-resque's counts.
//
//   node resque_jobs.js PORT DB ACTION [NAMESPACE]
//   ACTION: fill     2 jobs in "high", 1 in "low"; 3 delayed jobs at two
//                    timestamps (2 at one, 1 at the other); 1 failed job
//                    (a worker ran a job that threw)
//           delayed  only the 3 delayed jobs
//           working  a worker takes a slow job and dies at work
//           drain    empties every queue (Queue#delQueue)
//           counts   prints {"<case name>": N, ...}: Queue#length of each
//                    queue, the jobs in Queue#allDelayed(), failedCount(),
//                    workers() and those workingOn() a job
//   NAMESPACE: node-resque's namespace option (default "resque").
// The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
"use strict";
const { Queue, Worker } = require("node-resque");

const jobs = {
  work: { perform: async () => "ok" },
  boom: { perform: async () => { throw new Error("boom"); } },
  slow: { perform: () => new Promise((resolve) => setTimeout(resolve, 60000)) },
};

// A worker takes a slow job and dies at work (killed: no cleanup), as a
// Resque worker killed mid-job leaves worker:<id> behind.
async function dieWorking(connection) {
  const worker = new Worker({ connection, queues: ["slow"], timeout: 20,
    name: "cutover-test-worker" }, jobs);
  await worker.connect();
  const started = new Promise((resolve) => worker.on("job", resolve));
  worker.start();
  await started;
  await new Promise((resolve) => setTimeout(resolve, 200));
  process.exit(0);
}

async function failOne(connection) {
  const worker = new Worker({ connection, queues: ["boom"], timeout: 20 },
    jobs);
  await worker.connect();
  const failed = new Promise((resolve) => worker.on("failure", resolve));
  worker.start();
  await failed;
  await worker.end();
}

async function delayed(queue) {
  const base = (Math.floor(Date.now() / 1000) + 3600) * 1000;
  await queue.enqueueAt(base, "high", "work", [10]);
  await queue.enqueueAt(base, "low", "work", [11]);
  await queue.enqueueAt(base + 60000, "high", "work", [12]);
}

async function main() {
  const [port, db, action, ns] = process.argv.slice(2);
  if (!action)
    throw new Error("usage: resque_jobs.js PORT DB ACTION [NAMESPACE]");
  const namespace = ns || "resque";
  const connection = { host: "127.0.0.1", port: Number(port),
    database: Number(db), namespace,
    options: { password: process.env.CUTOVER_TB_REDIS_PASSWORD || undefined,
      db: Number(db) } };
  const queue = new Queue({ connection }, jobs);
  await queue.connect();
  if (action === "fill") {
    await queue.enqueue("high", "work", [1]);
    await queue.enqueue("high", "work", [2]);
    await queue.enqueue("low", "work", [3]);
    await delayed(queue);
    await queue.enqueue("boom", "boom", [4]);
    await failOne(connection);
  } else if (action === "working") {
    await queue.enqueue("slow", "slow", [60]);
    await dieWorking(connection);
  } else if (action === "delayed") {
    await delayed(queue);
  } else if (action === "drain") {
    for (const q of await queue.queues()) await queue.delQueue(q);
  } else if (action === "counts") {
    const out = {};
    for (const q of await queue.queues())
      out[`${namespace}:queue:${q}`] = await queue.length(q);
    let n = 0;
    for (const list of Object.values(await queue.allDelayed()))
      n += list.length;
    out[`${namespace}:delayed:*`] = n;
    out[`${namespace}:failed`] = await queue.failedCount();
    const workers = await queue.workers();
    out[`${namespace}:workers`] = Object.keys(workers).length;
    let working = 0;
    for (const [name, queues] of Object.entries(workers))
      if (await queue.workingOn(name, queues)) working++;
    out[`${namespace}:working`] = working;
    console.log(JSON.stringify(out));
  } else {
    throw new Error(`unknown action ${action}`);
  }
  await queue.end();
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
