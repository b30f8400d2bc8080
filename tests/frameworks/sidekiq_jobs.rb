# sidekiq_jobs.rb - fills a Redis db the way Sidekiq 6 does, with
# Sidekiq's own client and API, and prints Sidekiq's own counts.
#
#   ruby sidekiq_jobs.rb PORT DB ACTION [NAMESPACE]
#   ACTION: fill    3 jobs in default, 2 in mailers, 1 scheduled,
#                   2 retries (a failing job through Sidekiq::JobRetry),
#                   1 dead job (Sidekiq::DeadSet#kill)
#           drain   empties the queues (Sidekiq::Queue#clear)
#           clear-sets  empties schedule, retry and dead (#clear)
#           slow    1 job in "slow" that runs for 10 minutes
#           wait-busy  waits until a Sidekiq server runs it (WorkSet)
#           counts  prints {"<case name>": N, ...}: Queue#size,
#                   ScheduledSet/RetrySet/DeadSet#size, ProcessSet#size,
#                   WorkSet#size ("busy")
# NAMESPACE: redis-namespace, as Sidekiq's `namespace:` option.
# The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
require "json"
require "sidekiq/api"
require "sidekiq/job_retry"

port, db, action, ns = ARGV
abort "usage: sidekiq_jobs.rb PORT DB ACTION [NAMESPACE]" if action.nil?
ENV["SIDEKIQ_TEST_PORT"] = port
ENV["SIDEKIQ_TEST_DB"] = db
ENV["SIDEKIQ_TEST_NS"] = ns.to_s
require_relative "sidekiq_app"

# A job failing under Sidekiq's own retry logic lands in the retry set.
def fail_once(n)
  msg = {"class" => "HardJob", "args" => [n], "queue" => "default",
         "jid" => SecureRandom.hex(12), "retry" => 5,
         "created_at" => Time.now.to_f, "enqueued_at" => Time.now.to_f}
  Sidekiq::JobRetry.new.local(HardJob.new, JSON.dump(msg), "default") do
    raise "boom #{n}"
  end
rescue Sidekiq::JobRetry::Handled, RuntimeError
  nil
end

case action
when "fill"
  3.times { |i| HardJob.perform_async(i) }
  2.times { |i| MailJob.perform_async(i) }
  HardJob.perform_in(3600, 99)
  2.times { |i| fail_once(i) }
  dead = {"class" => "HardJob", "args" => [7], "queue" => "default",
          "jid" => SecureRandom.hex(12)}
  Sidekiq::DeadSet.new.kill(JSON.dump(dead), notify_failure: false)
when "slow"
  SlowJob.perform_async(600)
when "wait-busy"
  # until a running Sidekiq server reports the slow job busy (heartbeat)
  150.times do
    break if Sidekiq::WorkSet.new.size.positive?
    sleep 0.1
  end
  abort "no busy job after 15s" unless Sidekiq::WorkSet.new.size.positive?
when "drain"
  Sidekiq::Queue.all.each(&:clear)
when "clear-sets"
  [Sidekiq::ScheduledSet, Sidekiq::RetrySet, Sidekiq::DeadSet].each { |s| s.new.clear }
when "counts"
  pfx = ns && !ns.empty? ? "#{ns}:" : ""
  out = {}
  (Sidekiq::Queue.all.map(&:name) | ["default"]).each do |q|
    out["#{pfx}queue:#{q}"] = Sidekiq::Queue.new(q).size
  end
  out["#{pfx}schedule"] = Sidekiq::ScheduledSet.new.size
  out["#{pfx}retry"] = Sidekiq::RetrySet.new.size
  out["#{pfx}dead"] = Sidekiq::DeadSet.new.size
  out["#{pfx}processes"] = Sidekiq::ProcessSet.new(false).size
  out["#{pfx}busy"] = Sidekiq::WorkSet.new.size
  puts JSON.generate(out)
else
  abort "unknown action #{action}"
end
