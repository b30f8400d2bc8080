# sidekiq_app.rb - the Sidekiq side of the tests: Redis settings from
# SIDEKIQ_TEST_PORT / SIDEKIQ_TEST_DB / SIDEKIQ_TEST_NS (redis-namespace)
# and CUTOVER_TB_REDIS_PASSWORD, and the job classes. Loaded by
# sidekiq_jobs.rb, and by a Sidekiq server: sidekiq -r ./sidekiq_app.rb
require "sidekiq"

redis = {url: "redis://127.0.0.1:#{ENV.fetch("SIDEKIQ_TEST_PORT")}/" \
              "#{ENV.fetch("SIDEKIQ_TEST_DB")}",
         password: ENV.fetch("CUTOVER_TB_REDIS_PASSWORD", nil)}
ns = ENV.fetch("SIDEKIQ_TEST_NS", "")
redis[:namespace] = ns unless ns.empty?
Sidekiq.configure_client { |c| c.redis = redis }
Sidekiq.configure_server { |c| c.redis = redis }
Sidekiq.logger.level = Logger::WARN
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

class SlowJob
  include Sidekiq::Worker
  sidekiq_options queue: "slow"

  def perform(seconds)
    sleep seconds
  end
end
