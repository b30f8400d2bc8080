# sidekiq_jobs.rb - fills a Redis db the way Sidekiq 6 does, with
# Sidekiq's own client and API, and prints Sidekiq's own counts.
#
#   ruby sidekiq_jobs.rb PORT DB ACTION [NAMESPACE]
#   ACTION: fill    3 jobs in default, 2 in mailers, 1 scheduled,
#                   2 retries (a failing job through Sidekiq::JobRetry),
#                   1 dead job (Sidekiq::DeadSet#kill)
#           drain   empties the queues (Sidekiq::Queue#clear)
#           clear-sets  empties schedule, retry and dead (#clear)
#           counts  prints {"<case name>": N, ...}: Queue#size,
#                   ScheduledSet/RetrySet/DeadSet#size, ProcessSet#size
# NAMESPACE: redis-namespace, as Sidekiq's `namespace:` option.
# The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
require "json"
require "sidekiq"
require "sidekiq/api"
require "sidekiq/job_retry"

port, db, action, ns = ARGV
abort "usage: sidekiq_jobs.rb PORT DB ACTION [NAMESPACE]" if action.nil?
redis = {url: "redis://127.0.0.1:#{port}/#{db}",
         password: ENV.fetch("CUTOVER_TB_REDIS_PASSWORD", nil)}
redis[:namespace] = ns if ns && !ns.empty?
Sidekiq.configure_client { |c| c.redis = redis }
Sidekiq.configure_server { |c| c.redis = redis }
Sidekiq.logger.level = Logger::FATAL
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

class HardJob
  include Sidekiq::Worker
  sidekiq_options retry: 5

  def perform(n)
  end
end

class MailJob
  include Sidekiq::Worker
  sidekiq_options queue: "mailers"

  def perform(n)
  end
end

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
  puts JSON.generate(out)
else
  abort "unknown action #{action}"
end
